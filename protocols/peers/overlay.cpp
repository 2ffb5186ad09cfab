#include "protocols/peers/overlay.hpp"

#include <algorithm>
#include <cmath>

namespace confab::peers {

void overlay::draw_degree(seam::random& rng) {
  const peer_config& cfg = ctx_.cfg;
  if (cfg.overlay != overlay_model::exponential) {
    target_degree_ = cfg.attach;
    return;
  }
  // The documents' alternative overlay: P(k) ∝ 40·1.5^(−k/10), k = 1..degree_max.
  auto weight = [](std::size_t k) { return 40.0 * std::pow(1.5, -static_cast<double>(k) / 10.0); };
  double total = 0;
  for (std::size_t k = 1; k <= cfg.degree_max; ++k) total += weight(k);
  double u = rng.unit() * total;
  target_degree_ = cfg.degree_max;
  for (std::size_t k = 1; k <= cfg.degree_max; ++k) {
    u -= weight(k);
    if (u <= 0) {
      target_degree_ = k;
      break;
    }
  }
}

void overlay::on_registered(time_point now) {
  link_due_set_ = true;
  link_due_ = now + std::min<duration>(ctx_.cfg.register_retry / 4, 200ms);
}

void overlay::link_more(time_point now, seam::random& rng, const std::map<node_id, std::uint16_t>& known,
                        const reachability& reach, std::uint64_t incarnation, output& out) {
  std::vector<std::pair<node_id, double>> candidates;
  for (auto& [peer, degree] : known) {
    if (peer == ctx_.self || neighbours_.count(peer) || pending_.count(peer)) continue;
    if (reach.lost_within(peer, now, ctx_.cfg.ping_interval)) continue;  // recently unreachable
    // Preferential attachment: chance ∝ degree + 1. The exponential model
    // picks uniformly (its power law comes from the drawn k).
    candidates.emplace_back(peer, ctx_.cfg.overlay == overlay_model::preferential ? static_cast<double>(degree) + 1.0 : 1.0);
  }
  const std::size_t have = neighbours_.size() + pending_.size();
  std::size_t want = target_degree_ > have ? target_degree_ - have : 0;
  while (want > 0 && !candidates.empty()) {
    double total = 0;
    for (auto& [peer, weight] : candidates) total += weight;
    double u = rng.unit() * total;
    std::size_t pick = candidates.size() - 1;
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      u -= candidates[i].second;
      if (u <= 0) {
        pick = i;
        break;
      }
    }
    const node_id peer = candidates[pick].first;
    candidates.erase(candidates.begin() + static_cast<std::ptrdiff_t>(pick));
    pending_[peer] = now + 2 * ctx_.cfg.probe_timeout + 1s;
    out.to_peers.emplace_back(peer, link_request{.incarnation = incarnation});
    --want;
  }
}

bool overlay::add(node_id peer) {
  pending_.erase(peer);
  if (peer == ctx_.self) return false;
  return neighbours_.insert(peer).second;
}

void overlay::tick(time_point now, seam::random& rng, bool registered, const std::map<node_id, std::uint16_t>& known,
                   const reachability& reach, std::uint64_t incarnation, output& out) {
  if (link_due_set_ && now >= link_due_) {
    link_due_set_ = false;
    if (refresh_due_ && registered) {
      const auto& seeds_list = ctx_.cfg.seeds;
      out.to_seeds.emplace_back(seeds_list[rng.below(seeds_list.size())], seeds::pl_request{.request_id = 0});
      next_pl_request_at_ = now + ctx_.cfg.register_retry / 2;
    }
    refresh_due_ = false;
    link_more(now, rng, known, reach, incarnation, out);
    next_refresh_at_ = now + ctx_.cfg.register_retry;
  }
  // Link requests that were never answered are given up.
  std::erase_if(pending_, [&](const auto& request) { return now >= request.second; });
  // Too few neighbours (deaths, refusals): refresh the PL from a seed, link more.
  if (registered && !link_due_set_ && wants_more() && now >= next_refresh_at_) {
    const auto& seeds_list = ctx_.cfg.seeds;
    out.to_seeds.emplace_back(seeds_list[rng.below(seeds_list.size())], seeds::pl_request{.request_id = 0});
    link_more(now, rng, known, reach, incarnation, out);
    next_refresh_at_ = now + ctx_.cfg.register_retry;
  }
}

time_point overlay::next_deadline(bool registered) const {
  time_point t = never;
  if (link_due_set_) t = std::min(t, link_due_);
  for (auto& [peer, at] : pending_) t = std::min(t, at);
  if (registered && !link_due_set_ && wants_more()) t = std::min(t, next_refresh_at_);
  return t;
}

}  // namespace confab::peers
