#!/usr/bin/env python3
"""The baseline for `confab vote-server`: a Python threaded server written to
source document 001's design, speaking the same lines as confab's document
dialect so the same client drives both.

As the document describes it: one thread per client (threading), the riddle
first, a PIN, a menu; a vote is appended to a shared list under a lock and
`check_for_majority` runs after each: consensus when more than one vote was
cast, the counts differ, and the leader has more than half of the
authenticated clients; then `broadcast_consensus` writes the result to every
authenticated client. Its PINs are sequential from 100 here (the document's
random ones would collide at the sizes measured), and a consensus clears the
votes so the next poll starts fresh, as the document's server repeats its
question.

Usage: vote_baseline.py PORT"""
import socket
import sys
import threading

MENU = ["<<'setup' to declare node info", "<<'discover' to discover nodes",
        "<<'negotiate' to negotiate with server (store node info)",
        "<<'receive' to receive stored node info from server", "<<'vote' to enter voting consensus",
        "<<'stats' to view current consensus statistics", "<<'exit' to exit consensus protocol", "[Select an option]"]
QUESTION = "Would you rather (A) be able to fly or (B) be invisible?"

lock = threading.Lock()
clients = {}  # pin -> socket (authenticated)
votes = {}  # pin -> choice
poll = [1]
next_pin = [100]


def send(conn, lines):
    conn.sendall("".join(l + "\r\n" for l in lines).encode())


def check_for_majority():
    if len(votes) < 2:
        return None
    a = sum(1 for v in votes.values() if v == "A")
    b = len(votes) - a
    if a == b:
        return None
    top, n = ("A", a) if a > b else ("B", b)
    return top if n * 2 > len(clients) else None


def broadcast_consensus(winner):
    a = sum(1 for v in votes.values() if v == "A")
    b = len(votes) - a
    line = f"CONSENSUS REACHED on poll {poll[0]}: {winner}. Votes: A {a}, B {b}; {len(votes)} of {len(clients)} voters"
    for c in list(clients.values()):
        try:
            send(c, [line])
        except OSError:
            pass


def handle(conn, addr):
    f = conn.makefile("r", encoding="utf-8", errors="replace", newline="\n")
    pin = None
    try:
        send(conn, ["What has keys but can't open locks?"])
        while True:
            line = f.readline()
            if not line:
                return
            if line.strip().lower() == "keyboard":
                break
            send(conn, ["Incorrect answer, try again.", "What has keys but can't open locks?"])
        with lock:
            pin = next_pin[0]
            next_pin[0] += 1
            clients[pin] = conn
        send(conn, ["Correct! You may now vote and request for node discovery and negotiation.",
                    f"Your PIN is: {pin}"] + MENU)
        while True:
            line = f.readline()
            if not line:
                return
            option = line.strip().lower()
            if option == "vote":
                send(conn, [f"Poll {poll[0]}: {QUESTION}", "Cast your vote (A or B):"])
                choice = f.readline()
                if not choice:
                    return
                choice = choice.strip().upper()
                if choice not in ("A", "B"):
                    send(conn, ["Error: not one of the poll's choices."] + MENU)
                    continue
                with lock:
                    votes[pin] = choice
                    send(conn, [f"Vote recorded: {choice} (poll {poll[0]})."] + MENU)
                    winner = check_for_majority()
                    if winner:
                        broadcast_consensus(winner)
                        votes.clear()
                        poll[0] += 1
            elif option == "exit":
                send(conn, ["Goodbye."])
                return
            else:
                send(conn, [f"Error: unknown option '{option}'."] + MENU)
    except OSError:
        pass
    finally:
        with lock:
            if pin is not None:
                clients.pop(pin, None)
        conn.close()


def main():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(sys.argv[1])))
    s.listen(4096)
    print(f"baseline: serving 127.0.0.1:{sys.argv[1]}", flush=True)
    threading.stack_size(256 * 1024)
    while True:
        conn, addr = s.accept()
        threading.Thread(target=handle, args=(conn, addr), daemon=True).start()


if __name__ == "__main__":
    main()
