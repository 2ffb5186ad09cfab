// confab seeds: the pure core of a seed node.
//
// Messages and ticks in, an `output` out (what to persist, what to send,
// what happened). No I/O, no clock reads: the time and the random source
// are arguments, so the deterministic simulator replays it exactly.
//
//   seeds::output out;
//   core.on_message(now, rng, from, msg, out);   // then persist, then send
//   timer = core.next_tick();
//
// Safety rules kept (Raft): one vote per term, persisted before it is sent;
// a candidate wins only with an up-to-date log; a leader commits only
// entries of its own term by counting, earlier ones through them; followers
// truncate only conflicting suffixes. Pre-votes keep a seed that was cut
// off from raising the term of a healthy majority when it returns, and a
// leader that loses contact with a majority for an election timeout steps
// down, so a minority side never claims to lead.
//
// Thread: one.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include "protocols/seeds/api.hpp"

namespace confab::seeds {

class seed_core {
 public:
  seed_core(seed_config cfg, node_id self, recovered_state recovered);

  void start(time_point now, seam::random& rng, output& out);
  void on_message(time_point now, seam::random& rng, node_id from, const message& m, output& out);
  void on_tick(time_point now, seam::random& rng, output& out);
  // The earliest time on_tick has work to do.
  time_point next_tick() const noexcept;

  // ## queries
  role current_role() const noexcept { return role_; }
  // A learner neither votes nor stands (hard_state::learner).
  bool learner() const noexcept { return hard_.learner; }
  std::uint64_t term() const noexcept { return hard_.term; }
  node_id leader() const noexcept { return leader_; }
  node_id self() const noexcept { return self_; }
  std::uint64_t commit_index() const noexcept { return commit_; }
  std::uint64_t last_index() const noexcept { return log_.size(); }
  // Entry `i`, 1-based.
  const entry& at(std::uint64_t i) const { return log_[i - 1]; }
  // The applied peer list.
  const std::set<node_id>& members() const noexcept { return members_; }
  std::uint64_t pl_digest() const noexcept { return digest_; }
  std::size_t pending_requests() const noexcept { return pending_.size(); }
  // Leaves this seed waits on (answered when the removal commits).
  std::size_t pending_leaves() const noexcept { return leaving_.size(); }
  const seed_config& config() const noexcept { return cfg_; }

 private:
  struct pending_request {
    std::uint64_t request_id = 0;
    time_point last_sent{};
  };
  struct leave_wait {
    node_id asker = no_node;
    std::uint64_t request_id = 0;
    time_point last_sent{};
  };
  struct report_set {
    std::map<node_id, time_point> reporters;  // reporter -> when
  };

  bool is_seed(node_id id) const noexcept;
  std::uint64_t last_term() const noexcept { return log_.empty() ? 0 : log_.back().term; }
  std::uint64_t term_at(std::uint64_t i) const noexcept { return i == 0 || i > log_.size() ? 0 : log_[i - 1].term; }
  void persist_hard(output& out);
  void reset_election(time_point now, seam::random& rng);
  void become_follower(time_point now, std::uint64_t term, node_id leader, output& out);
  void start_pre_vote(time_point now, seam::random& rng, output& out);
  void start_election(time_point now, seam::random& rng, output& out);
  void become_leader(time_point now, seam::random& rng, output& out);
  void append(time_point now, entry e, output& out);
  void send_append(node_id to, output& out);
  void broadcast_append(time_point now, output& out);
  void advance_commit(time_point now, seam::random& rng, output& out);
  void apply(time_point now, seam::random& rng, output& out);
  bool projected_member(node_id p) const;
  void answer_register(time_point now, seam::random& rng, node_id peer, std::uint64_t request_id, output& out);
  void handle_register(time_point now, seam::random& rng, node_id peer, std::uint64_t request_id, bool direct,
                       output& out);
  void handle_report(time_point now, seam::random& rng, const dead_report& r, node_id sender, bool direct, output& out);
  void handle_leave(time_point now, seam::random& rng, node_id asker, const leave_request& l, bool direct, output& out);
  void propose_leaves(time_point now, output& out);
  bool gone(node_id peer) const;
  void drop_superseded(time_point now, const entry& e);
  void answer_gone_leaves(output& out);
  void answer_members(time_point now, node_id asker, const members_request& q, output& out) const;
  node_id legacy_reporter(std::uint32_t ip, node_id suspect) const;
  void evaluate_removal(time_point now, seam::random& rng, node_id suspect, output& out);
  void on_request_vote(time_point now, seam::random& rng, node_id from, const request_vote& m, output& out);
  void on_vote_reply(time_point now, seam::random& rng, node_id from, const vote_reply& m, output& out);
  void on_append_entries(time_point now, seam::random& rng, node_id from, const append_entries& m, output& out);
  void on_append_reply(time_point now, seam::random& rng, node_id from, const append_reply& m, output& out);

  seed_config cfg_;
  node_id self_;
  hard_state hard_;
  std::vector<entry> log_;
  std::uint64_t commit_ = 0, applied_ = 0;
  role role_ = role::follower;
  node_id leader_ = no_node;
  time_point election_deadline_{};
  time_point last_leader_contact_{};
  bool heard_leader_ = false;
  std::set<node_id> votes_;
  // leader state
  std::unordered_map<node_id, std::uint64_t> next_index_, match_index_;
  std::unordered_map<node_id, time_point> last_ack_;
  time_point heartbeat_due_{};
  time_point leader_since_{};
  // membership
  std::set<node_id> members_;
  std::uint64_t digest_ = 0;
  // The same members with O(1) random access, for sampling replies.
  std::vector<node_id> member_list_;
  std::unordered_map<node_id, std::size_t> member_pos_;
  void add_member(node_id p);
  void remove_member(node_id p);
  std::map<node_id, pending_request> pending_;  // peers that asked this seed to register them
  std::map<node_id, report_set> reports_;
  std::map<node_id, leave_wait> leaving_;  // peer -> who asked it to leave, until the removal commits
  // Removed peers and when their removal was applied here: registrations
  // are held off for rejoin_hold after it.
  std::map<node_id, time_point> departed_;
  std::map<node_id, std::set<node_id>> declared_;  // peer -> its declared neighbours
  // When each member last declared (or was added): the declaration lease.
  std::unordered_map<node_id, time_point> renewed_;
  // Leader: members asked to watch a member that lacks live witnesses.
  struct watch {
    std::vector<node_id> by;
    time_point asked{};
  };
  std::unordered_map<node_id, watch> watches_;
  time_point next_lease_check_{}, last_lease_check_{};
  // A removal, or a lapsed lease, changed some suspect's live witnesses.
  bool removed_since_check_ = false;
  time_point lease_end(node_id p) const;
  bool lease_fresh(time_point now, node_id p) const;
  // The suspect's live witnesses: its declared neighbours that are members
  // with a fresh lease, then the members asked to watch it.
  std::vector<node_id> witnesses(time_point now, node_id suspect) const;
  // Tops the suspect's watchers up so it has cfg_.watchers live witnesses
  // (or as many as there are other members), asking new ones to probe it;
  // `again` re-asks the watchers it already has.
  void ask_watchers(time_point now, seam::random& rng, node_id suspect, bool again, const char* why, output& out);
  void check_leases(time_point now, seam::random& rng, output& out);
  // The highest commit index a leader of this term or an earlier one told
  // this seed about (a follower further behind answers `behind`).
  std::uint64_t leader_commit_seen_ = 0;
  // Learner state (hard_state::learner): what the first leader it heard
  // had committed, and the seeds that answered a probe showing term 0.
  std::optional<std::uint64_t> catch_up_to_;
  std::set<node_id> fresh_seeds_;
  bool never_held_anything() const noexcept;
  void probe(time_point now, output& out);
  void end_learning(time_point now, const char* why, output& out);
};

}  // namespace confab::seeds
