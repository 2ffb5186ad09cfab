#include "protocols/seeds/node.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "protocols/common/endpoints.hpp"

namespace confab::seeds {

seed_node::seed_node(seed_config cfg, log_store& store, event_sink on_event, reject_sink on_reject,
                     const protocols::cluster_auth* auth)
    : cfg_(std::move(cfg)), store_(store), on_event_(std::move(on_event)), on_reject_(std::move(on_reject)), sealer_(protocols::sealer_for(auth)) {}

seed_node_stats seed_node::stats() const noexcept {
  seed_node_stats s = stats_;
  if (sealer_) {
    s.forged = sealer_->stats().refused_tag;
    s.replayed = protocols::replays_refused(sealer_->stats());
  }
  return s;
}

void seed_node::on_start(seam::env& e) {
  core_.emplace(cfg_, e.self(), store_.recovered());
  out_.clear();
  step_.clear();
  core_->start(e.now(), e.rng(), step_);
  merge(step_);
  flush(e);
}

result<void> seed_node::on_message(seam::env& e, node_id from, std::span<const std::byte> payload) {
  ++stats_.received;
  if (sealer_) {
    auto inner = sealer_->open(from, e.self(), payload);
    if (!inner) {
      if (on_reject_) on_reject_(from, inner.error().detail);
      return inner.error();
    }
    payload = *inner;
  }
  auto m = decode(payload);
  if (!m) {
    ++stats_.rejected;
    if (on_reject_) on_reject_(from, m.error().detail ? m.error().detail : "malformed");
    return m.error();
  }
  step_.clear();
  core_->on_message(e.now(), e.rng(), from, *m, step_);
  merge(step_);
  // Group commit: everything that arrives before the host's next turn is
  // saved with one sync, then sent. Nothing leaves before it is durable, so
  // deferring is safe; it only batches.
  if (out_.sends.size() >= flush_sends_max) {
    // Bounded: a burst (a million PL requests on a few connections) is
    // answered as it is read, so replies wait in the host, whose budget for
    // what peers leave unread then applies, not here.
    flush(e);
    return {};
  }
  if (!flush_scheduled_) {
    flush_scheduled_ = true;
    e.set_timer(e.now());
  }
  return {};
}

void seed_node::on_timer(seam::env& e) {
  flush_scheduled_ = false;
  if (e.now() >= core_->next_tick()) {
    step_.clear();
    core_->on_tick(e.now(), e.rng(), step_);
    merge(step_);
  }
  flush(e);
}

void seed_node::merge(output& o) {
  auto& p = out_.persist;
  const auto& q = o.persist;
  if (q.hard_changed) {
    p.hard_changed = true;
    p.hard = q.hard;
  }
  if (q.truncate_after != ~std::uint64_t{0}) {
    p.truncate_after = std::min(p.truncate_after, q.truncate_after);
    if (!p.entries.empty() && p.first_index + p.entries.size() - 1 > q.truncate_after)
      p.entries.resize(q.truncate_after >= p.first_index ? q.truncate_after - p.first_index + 1 : 0);
  }
  if (!q.entries.empty()) {
    if (p.entries.empty()) p.first_index = q.first_index;
    CONFAB_ASSERT(q.first_index == p.first_index + p.entries.size());
    p.entries.insert(p.entries.end(), q.entries.begin(), q.entries.end());
  }
  for (auto& s : o.sends) out_.sends.push_back(std::move(s));
  for (auto& ev : o.events) out_.events.push_back(ev);
}

void seed_node::flush(seam::env& e) {
  flush_scheduled_ = false;  // the timer is set again below
  if (!out_.persist.empty()) {
    if (auto ok = store_.save(out_.persist); !ok) {
      const int err = ok.error().sys_errno;
      if (err != ENOSPC && err != EDQUOT) {
        std::fprintf(stderr, "confab seed: cannot persist the log (%s); stopping\n", ok.error().message().c_str());
        std::abort();
      }
      // The disk is full: nothing that depends on this batch leaves (no
      // vote, no acknowledgement, no reply); it is retried with whatever
      // arrives meanwhile, so the seed acts as one with a very slow disk.
      ++stats_.save_refusals;
      if (refused_in_a_row_++ == 0) {
        std::fprintf(stderr, "confab seed: the disk refused the log (%s): holding every reply until a save succeeds, "
                     "retrying every 200 ms\n", ok.error().message().c_str());
        if (on_event_)
          on_event_({.kind = seed_event::storage_refused, .at = e.now(), .term = core_->term(),
                     .why = "the disk refused the log (full?): no reply leaves until a save succeeds"});
      }
      // Bounded while it lasts: sends are retried by their senders anyway.
      if (out_.sends.size() > 100000) out_.sends.erase(out_.sends.begin(), out_.sends.end() - 100000);
      e.set_timer(std::min(core_->next_tick(), e.now() + std::chrono::milliseconds(200)));
      return;
    }
    ++stats_.saves;
    if (refused_in_a_row_ > 0) {
      std::fprintf(stderr, "confab seed: the log is saved again (after %llu refused attempts)\n",
                   static_cast<unsigned long long>(refused_in_a_row_));
      refused_in_a_row_ = 0;
    }
  }
  for (auto& [to, m] : out_.sends) {
    buf_.clear();
    encode(m, buf_);
    if (sealer_) sealer_->seal(e.self(), to, buf_);
    if (e.send(to, buf_)) ++stats_.sent;
    else ++stats_.send_failures;
  }
  if (on_event_)
    for (const auto& ev : out_.events) on_event_(ev);
  out_.clear();
  e.set_timer(core_->next_tick());
}

namespace {
const char* entry_name(entry_kind k) {
  return k == entry_kind::add ? "PROPOSE_ADD" : k == entry_kind::remove ? "PROPOSE_REMOVE" : "NOOP";
}
}  // namespace

std::string event_text(const seed_event& e, node_id self) {
  char head[96];
  std::snprintf(head, sizeof head, "[%10.3f s] seed %s term %llu: ", std::chrono::duration<double>(e.at).count(),
                endpoints::id_string(self).c_str(), static_cast<unsigned long long>(e.term));
  std::string s = head;
  const auto peer = endpoints::id_string(e.peer);
  switch (e.kind) {
    case seed_event::became_follower:
      s += e.peer == no_node ? "follower, no leader known" : "follower of leader " + peer;
      break;
    case seed_event::became_candidate: s += "election timeout: candidate, asking for votes"; break;
    case seed_event::became_leader: s += "LEADER elected by a majority"; break;
    case seed_event::vote_granted: s += "VOTE granted to " + peer; break;
    case seed_event::proposed: s += std::string(entry_name(e.entry)) + " " + peer + " at index " + std::to_string(e.index); break;
    case seed_event::committed: s += "COMMIT up to index " + std::to_string(e.index) + " (held by a majority)"; break;
    case seed_event::applied_add: s += "ADDED " + peer + " to the PL (index " + std::to_string(e.index) + ")"; break;
    case seed_event::applied_remove: s += "REMOVED " + peer + " from the PL (index " + std::to_string(e.index) + ")"; break;
    case seed_event::register_received: s += "registration from " + peer; break;
    case seed_event::register_answered: s += "sent the PL to " + peer; break;
    case seed_event::report_received:
      s += "Dead Node report about " + peer + " from " + endpoints::id_string(e.other);
      break;
    case seed_event::report_ignored:
      s += "ignored a report about " + peer + " from " + endpoints::id_string(e.other) + ": " + (e.why ? e.why : "");
      break;
    case seed_event::leave_received:
      s += e.other == e.peer ? "LEAVE asked by " + peer + " itself"
                             : "FORCE-LEAVE of " + peer + " asked by " + endpoints::id_string(e.other);
      break;
    case seed_event::watch_asked:
      s += "asked " + endpoints::id_string(e.other) + " to probe " + peer + ": " + (e.why ? e.why : "");
      break;
    case seed_event::storage_refused: s += std::string("STORAGE: ") + (e.why ? e.why : ""); break;
    case seed_event::learner_ended:
      s += "LEARNER no more, voting again from term " + std::to_string(e.term + 1) + ": " + (e.why ? e.why : "");
      break;
    case seed_event::follower_behind:
      s += "follower " + peer + " holds only " + std::to_string(e.index) + " entries, resending from there: " + (e.why ? e.why : "");
      break;
  }
  return s;
}

}  // namespace confab::seeds
