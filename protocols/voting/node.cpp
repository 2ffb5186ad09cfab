#include "protocols/voting/node.hpp"

namespace confab::voting {

vote_server::vote_server(server_config cfg) : cfg_(std::move(cfg)) {}

void vote_server::log(const std::string& line) const {
  if (cfg_.log) cfg_.log(line);
}

void vote_server::on_start(seam::line_env&) {
  if (cfg_.on_serving) cfg_.on_serving();
}
void vote_server::arm(seam::line_env& e) {
  std::optional<seam::time_point> first = notice_due_;
  for (auto& [_, at] : deadlines_) first = first ? std::min(*first, at) : at;
  if (first) e.set_timer(*first);
}

void vote_server::on_timer(seam::line_env& e) {
  std::vector<poll_id> due;
  for (auto& [id, at] : deadlines_)
    if (at <= e.now()) due.push_back(id);
  for (auto id : due) {
    deadlines_.erase(id);
    std::vector<event> events;
    (void)apply(e, close_poll{id}, events);  // already closed by a vote in between: refused, nothing to do
    broadcast(e, events);
  }
  if (notice_due_ && *notice_due_ <= e.now()) {
    notice_due_.reset();
    gathered_.registered = static_cast<std::uint32_t>(box_.clients().size());
    std::vector<event> notice{std::move(gathered_)};
    gathered_ = {};
    broadcast(e, notice);
  }
  arm(e);
}

void vote_server::on_open(seam::line_env& e, seam::client_id c, std::string_view address, unsigned listener) {
  ++stats_.clients_opened;
  std::unique_ptr<session> s;
  if (listener == native_listener)
    s = std::make_unique<native_session>(cfg_.native, std::string(address), protocols::challenge());
  else
    s = std::make_unique<legacy_session>(cfg_.legacy, std::string(address));
  auto [it, fresh] = conns_.try_emplace(c, conn{std::move(s), {}, false});
  CONFAB_ASSERT(fresh);
  session_output out;
  it->second.session->start(out);
  run(e, c, out);
}

result<std::uint64_t, refused> vote_server::apply(seam::line_env& e, const command& cmd, std::vector<event>& events) {
  ++stats_.commands;
  auto r = box_.apply(cmd, events);
  if (!r) ++stats_.refused;
  if (r && std::holds_alternative<cast>(cmd)) ++stats_.votes;
  if (cfg_.notice_interval.count() > 0) {
    // Joins and leaves wait for the next notice; the rest goes out now.
    std::erase_if(events, [&](const event& ev) {
      if (auto* j = std::get_if<joined>(&ev)) {
        gathered_.joins.push_back(*j);
      } else if (auto* l = std::get_if<left>(&ev)) {
        gathered_.leaves.push_back(l->who);
      } else {
        return false;
      }
      if (!notice_due_) {
        notice_due_ = e.now() + std::chrono::duration_cast<seam::duration>(cfg_.notice_interval);
        arm(e);
      }
      return true;
    });
  }
  for (auto& ev : events) {
    if (auto* c = std::get_if<poll_closed>(&ev)) {
      ++stats_.polls_decided;
      deadlines_.erase(c->result.poll);
    }
    if (auto* o = std::get_if<poll_opened>(&ev); o && cfg_.poll_timeout.count() > 0) {
      deadlines_[o->poll] = e.now() + std::chrono::duration_cast<seam::duration>(cfg_.poll_timeout);
      arm(e);
    }
  }
  return r;
}

void vote_server::broadcast(seam::line_env& e, const std::vector<event>& events) {
  if (events.empty()) return;
  // Ids first: a write can close a client that does not read, and its
  // on_closed erases it.
  std::vector<seam::client_id> ids;
  ids.reserve(conns_.size());
  for (auto& [id, _] : conns_) ids.push_back(id);
  for (auto& ev : events) {
    for (auto id : ids) {
      auto it = conns_.find(id);
      if (it == conns_.end()) continue;
      session_output o;
      it->second.session->on_event(ev, o);
      for (auto& l : o.lines) {
        ++stats_.pushed_lines;
        (void)e.write(id, l);  // a client that does not read is closed by the host
      }
    }
  }
}

// Writes what the session said and applies what it proposed, until it
// proposes nothing more. The proposer hears its answer before everyone
// hears what the command caused.
void vote_server::run(seam::line_env& e, seam::client_id c, session_output& out) {
  for (;;) {
    for (auto& l : out.lines) (void)e.write(c, l);
    out.lines.clear();
    if (out.close) {
      e.close(c);
      return;
    }
    if (!out.propose) return;
    command cmd = std::move(*out.propose);
    out.propose.reset();
    std::vector<event> events;
    auto r = apply(e, cmd, events);
    auto it = conns_.find(c);
    if (it != conns_.end()) {
      it->second.session->on_applied(r, box_, out);
      for (auto& l : out.lines) (void)e.write(c, l);
      out.lines.clear();
    }
    broadcast(e, events);
    if (!conns_.contains(c)) return;
  }
}

void vote_server::drain(seam::line_env& e, seam::client_id c) {
  for (;;) {
    auto it = conns_.find(c);
    if (it == conns_.end()) return;
    conn& k = it->second;
    if (k.session->waiting()) return;
    if (k.held.empty()) {
      if (k.input_ended) e.close(c);
      return;
    }
    std::string line = std::move(k.held.front());
    k.held.pop_front();
    session_output out;
    k.session->on_line(line, box_, out);
    run(e, c, out);
  }
}

void vote_server::on_line(seam::line_env& e, seam::client_id c, std::string_view line) {
  ++stats_.lines;
  auto it = conns_.find(c);
  if (it == conns_.end()) return;
  if (it->second.held.size() >= cfg_.held_lines_max) {
    (void)e.write(c, "Error: more than " + std::to_string(cfg_.held_lines_max) +
                         " lines sent ahead of their answers; closing.");
    log("voting: closed " + std::to_string(c) + ": too many pipelined lines");
    e.close(c);
    return;
  }
  it->second.held.emplace_back(line);
  drain(e, c);
}

void vote_server::on_line_too_long(seam::line_env& e, seam::client_id c) {
  ++stats_.too_long;
  auto it = conns_.find(c);
  if (it == conns_.end()) return;
  session_output out;
  it->second.session->on_line_too_long(out);
  run(e, c, out);
}

void vote_server::on_input_end(seam::line_env& e, seam::client_id c) {
  auto it = conns_.find(c);
  if (it == conns_.end()) return;
  it->second.input_ended = true;
  drain(e, c);
}

void vote_server::on_closed(seam::line_env& e, seam::client_id c, seam::client_end why) {
  ++stats_.clients_closed;
  auto it = conns_.find(c);
  if (it == conns_.end()) return;
  auto leaving = it->second.session->on_closed();
  conns_.erase(it);
  if (why == seam::client_end::idle) log("voting: closed client " + std::to_string(c) + ": idle");
  if (why == seam::client_end::slow) log("voting: closed client " + std::to_string(c) + ": not reading");
  if (leaving) {
    std::vector<event> events;
    (void)apply(e, *leaving, events);
    broadcast(e, events);
  }
}

}  // namespace confab::voting
