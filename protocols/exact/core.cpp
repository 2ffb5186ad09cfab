#include "protocols/exact/core.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "protocols/common/endpoints.hpp"

namespace confab::exact {

namespace {
double norm2(std::span<const double> v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}
}  // namespace

const char* name_of(strategy s) noexcept { return names::name_in(strategy_names, s); }
std::optional<strategy> strategy_from_name(std::string_view name) noexcept { return names::value_in(strategy_names, name); }
std::string strategy_list() { return names::names_list(strategy_names); }

const char* name_of(verdict v) noexcept {
  switch (v) {
    case verdict::recovered: return "recovered";
    case verdict::ambiguous: return "ambiguous";
    case verdict::not_identifiable: return "not-identifiable";
    case verdict::not_found: return "not-found";
    case verdict::stalled: return "stalled";
    case verdict::halted: return "halted";
  }
  return "?";
}

result<void, problem> validate(const exact_config& c) {
  auto bad = [](std::string s) { return problem{std::move(s)}; };
  if (!c.g || !c.W) return bad("the node has no graph or no weight matrix");
  const int n = c.g->n();
  if (n < 2 || n > vertices_max) return bad("the graph must have 2 to " + std::to_string(vertices_max) + " vertices");
  if (c.W->rows != n || c.W->cols != n) return bad("the weight matrix is not n x n for the graph's n vertices");
  if (c.self < 0 || c.self >= n) return bad("vertex " + std::to_string(c.self) + " is not in the graph");
  if (c.ids.size() != static_cast<std::size_t>(n)) return bad("the node ids do not cover every vertex");
  if (c.f < 0 || c.f > f_max) return bad("f must be between 0 and " + std::to_string(f_max));
  if (c.rounds == 0 || c.rounds > 4u * static_cast<std::uint32_t>(n) + 8u)
    return bad("rounds must be between 1 and 4n+8 (got " + std::to_string(c.rounds) + ")");
  if (!std::isfinite(c.x0)) return bad("the initial state is not a finite number");
  if (c.lie.how == strategy::crafted && c.lie.errors.empty()) return bad("a crafted attack needs its errors");
  if (!std::isfinite(c.lie.size)) return bad("the attack size is not a finite number");
  return {};
}

recoverer::recoverer(std::shared_ptr<const linalg::graph> g, std::shared_ptr<const linalg::matrix> W, int node, int f)
    : g_(std::move(g)), W_(std::move(W)), node_(node), f_(f) {
  const int n = g_->n();
  if (f_ == 0) {
    auto need = linalg::observations_min(*g_, *W_, node_, n);
    if (need.steps < 0) {
      why_ = "the observability matrix does not reach full rank within n steps";
      return;
    }
    // The fewest steps can leave O so badly conditioned that x(0) comes
    // back with few right digits (Torus 64: 1e-5). More observations
    // often help; take steps until cond(O) <= cond_max, at most n.
    // A condition that has not improved for `patience` steps will not:
    // the search stops there (each step is an SVD of a growing matrix).
    constexpr int patience = 8;
    double best = INFINITY;
    int best_at = need.steps;
    for (int v = need.steps; v <= n && v - best_at <= patience; ++v) {
      auto O = linalg::observability(*g_, *W_, node_, v);
      const auto rep = v == need.steps ? need.at_steps : linalg::numerical_rank(O);
      const double cond = rep.rank == n && rep.sigma_last_kept > 0 ? rep.sigma_max / rep.sigma_last_kept : INFINITY;
      if (cond < best) best = cond, best_at = v;
      if (cond <= cond_max) {
        steps_ = v;
        condition_ = cond;
        O_ = std::move(O);
        break;
      }
    }
    if (steps_ < 0) {
      char b[200];
      std::snprintf(b, sizeof b,
                    "ill-conditioned: cond(O) stays above %.0e (best %.1e at %d steps, no better in the %d after): "
                    "doubles cannot give x(0) to 1e-8",
                    cond_max, best, best_at, patience);
      why_ = b;
      return;
    }
    gamma_ = linalg::recovery_matrix(O_);
    return;
  }
  plan_ = std::make_unique<linalg::attack_plan>(linalg::plan_attack_recovery(*g_, *W_, node_, f_));
  if (plan_->status != linalg::attack_status::ok) {
    why_ = std::string(linalg::attack_status_name(plan_->status)) + (plan_->detail.empty() ? "" : ": " + plan_->detail);
    return;
  }
  steps_ = plan_->L + 1;
}

decision recoverer::decide(std::span<const double> y_all) const {
  decision d;
  d.node = node_;
  if (steps_ < 0) {
    d.what = verdict::not_identifiable;
    d.detail = why_;
    return d;
  }
  const auto len = static_cast<std::size_t>(steps_) * static_cast<std::size_t>(width());
  if (y_all.size() < len) {
    d.what = verdict::not_found;
    d.detail = "only " + std::to_string(y_all.size() / static_cast<std::size_t>(width())) + " of the " +
               std::to_string(steps_) + " observations needed";
    return d;
  }
  const std::vector<double> y(y_all.begin(), y_all.begin() + static_cast<std::ptrdiff_t>(len));
  d.steps = steps_;
  auto finish_average = [&] {
    double s = 0;
    for (double v : d.x0) s += v;
    d.average = d.x0.empty() ? 0 : s / static_cast<double>(d.x0.size());
  };
  if (f_ == 0) {
    d.x0 = gamma_.apply(y);
    // With no tolerance for attacks the node still checks that x(0)
    // explains what it saw: a residual above rounding means someone lied.
    const auto back = O_.apply(d.x0);
    double r = 0;
    for (std::size_t k = 0; k < y.size(); ++k) r += (back[k] - y[k]) * (back[k] - y[k]);
    d.attack_detected = std::sqrt(r) > 1e-9 * std::max(1.0, norm2(y));
    if (d.attack_detected) {
      d.what = verdict::not_found;
      d.detail = "the observations are not explained by any x(0) (f = 0: no compromised node allowed for)";
    }
    finish_average();
    return d;
  }
  d.attack_detected = linalg::attack_detected(*plan_, y);
  const auto r = linalg::recover_batched(*plan_, y);
  switch (r.status) {
    case linalg::attack_status::ok:
      d.what = verdict::recovered;
      d.x0 = r.x0;
      d.identified = r.identified;
      break;
    case linalg::attack_status::ambiguous:
      d.what = verdict::ambiguous;
      d.detail = std::to_string(r.passing) + " subsets explain the observations with different x(0)";
      break;
    case linalg::attack_status::not_found:
      d.what = verdict::not_found;
      d.detail = "no set of at most f = " + std::to_string(f_) + " nodes explains the observations";
      break;
    default:
      d.what = verdict::not_identifiable;
      d.detail = linalg::attack_status_name(r.status);
      break;
  }
  finish_average();
  return d;
}

int plan_rounds(const std::shared_ptr<const linalg::graph>& g, const std::shared_ptr<const linalg::matrix>& W, int f,
                std::string* why) {
  int most = 0;
  for (int i = 0; i < g->n(); ++i) {
    recoverer r(g, W, i, f);
    if (r.steps() < 0) {
      if (why) *why = "vertex " + std::to_string(i) + ": " + r.unusable();
      return -1;
    }
    most = std::max(most, r.steps());
  }
  return most;
}

result<behaviour, problem> parse_behaviour(std::string_view spec) {
  behaviour b;
  const auto colon = spec.find(':');
  const std::string name(spec.substr(0, colon));
  auto how = strategy_from_name(name);
  if (!how) return problem{"'" + name + "' is not one of " + strategy_list()};
  b.how = *how;
  if (b.how == strategy::silent) b.from_round = 3;
  if (colon == std::string_view::npos) return b;
  const std::string text(spec.substr(colon + 1));
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end || !std::isfinite(v)) return problem{"'" + text + "' is not a number"};
  if (b.how != strategy::silent) {
    b.size = v;
  } else if (v < 0 || v > 1e6) {
    return problem{"the silent round must be 0..1000000"};
  } else {
    b.from_round = static_cast<std::uint32_t>(v);
  }
  return b;
}

std::vector<double> injections(const behaviour& b, std::uint32_t rounds) {
  std::vector<double> u;
  switch (b.how) {
    case strategy::offset: u.assign(rounds, b.size); break;
    case strategy::small: u.assign(rounds, 1e-9 * b.size); break;
    case strategy::noise: {
      seam::random rng(b.seed);
      u.resize(rounds);
      for (auto& v : u) v = b.size * (2 * rng.unit() - 1);
      break;
    }
    case strategy::crafted: u = b.errors; break;
    default: break;
  }
  return u;
}

}  // namespace confab::exact
