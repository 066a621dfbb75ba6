// FidelityMeter: the FP32 and the candidate model run side by side with every Conv's input and
// output returned, summing a.a, b.b, a.b and (a-b).(a-b) per value; choose_fallback repeats it,
// moving the worst layer to FP32 each round.
#include "runtime/fidelity.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <tuple>

namespace iris::runtime {
namespace {

ValueFidelity fidelity_of(const std::string& value, double aa, double bb, double ab, double dd) {
  ValueFidelity f{.value = value};
  if (aa == 0 && bb == 0) return f;
  f.rel_error = aa > 0 ? std::sqrt(dd / aa) : std::numeric_limits<double>::infinity();
  f.cosine = aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : 0;
  return f;
}

}  // namespace

double Fidelity::min_output_cosine() const {
  double m = 1;
  for (const ValueFidelity& v : outputs) m = std::min(m, v.cosine);
  return m;
}

Result<FidelityMeter> FidelityMeter::create(const Graph& g, Options reference, Options candidate) {
  auto sites = conv_sites(g, candidate.input_shapes);
  if (!sites.ok()) return sites.status();
  FidelityMeter m;
  m.sites_ = std::move(*sites);
  for (const ConvSite& s : m.sites_) {
    for (const std::string* v : {&s.input, &s.output}) {
      if (std::find(m.values_.begin(), m.values_.end(), *v) == m.values_.end()) {
        m.values_.push_back(*v);
      }
    }
  }
  reference.extra_outputs = candidate.extra_outputs = m.values_;
  for (const std::string& v : m.values_) {
    const auto it = candidate.equalize.find(v);
    m.equalized_.push_back(it == candidate.equalize.end() ? std::vector<float>() : it->second);
  }
  for (auto [options, model, context] :
       {std::tuple{&reference, &m.reference_, &m.reference_context_},
        std::tuple{&candidate, &m.candidate_, &m.candidate_context_}}) {
    auto compiled = Model::compile(g, *options);
    if (!compiled.ok()) return compiled.status();
    auto c = (*compiled)->new_context();
    if (!c.ok()) return c.status();
    *model = std::move(*compiled);
    *context = std::move(*c);
  }
  m.model_outputs_ = m.candidate_->outputs().size() - m.values_.size();
  for (size_t i = 0; i < m.model_outputs_; ++i) {
    m.output_names_.push_back(m.candidate_->outputs()[i].name);
  }
  std::map<std::string, std::string> precision;  // by layer name
  for (const Layer& l : m.candidate_->layers()) precision[l.name] = l.precision;
  for (const ConvSite& s : m.sites_) m.precisions_.push_back(precision[s.node]);
  m.sums_.assign(m.model_outputs_ + m.values_.size(), {});
  return m;
}

Status FidelityMeter::add(const std::vector<View>& inputs) {
  if (Status s = reference_context_->run(inputs, &a_); !s.ok()) return s;
  if (Status s = candidate_context_->run(inputs, &b_); !s.ok()) return s;
  for (size_t k = 0; k < sums_.size(); ++k) {
    const float* a = a_[k].data<float>();
    const float* b = b_[k].data<float>();
    Sums& s = sums_[k];
    // An equalized value is compared in its own units: channel c times its scale.
    const std::vector<float>* scales = k < model_outputs_ || equalized_[k - model_outputs_].empty()
                                           ? nullptr
                                           : &equalized_[k - model_outputs_];
    const int64_t channels = scales ? static_cast<int64_t>(scales->size()) : 1;
    const int64_t inner = scales ? b_[k].count() / (b_[k].shape[0] * channels) : 1;
    for (int64_t i = 0; i < a_[k].count(); ++i) {
      const double x = a[i], y = scales ? b[i] * (*scales)[(i / inner) % channels] : b[i];
      s.aa += x * x;
      s.bb += y * y;
      s.ab += x * y;
      s.dd += (x - y) * (x - y);
    }
  }
  ++samples_;
  return {};
}

Fidelity FidelityMeter::result() const {
  Fidelity f;
  f.samples = samples_;
  const auto value = [&](size_t k, const std::string& name) {
    const Sums& s = sums_[k];
    return fidelity_of(name, s.aa, s.bb, s.ab, s.dd);
  };
  for (size_t k = 0; k < model_outputs_; ++k) f.outputs.push_back(value(k, output_names_[k]));
  const auto index = [&](const std::string& v) {
    return model_outputs_ + (std::find(values_.begin(), values_.end(), v) - values_.begin());
  };
  for (size_t i = 0; i < sites_.size(); ++i) {
    const ConvSite& s = sites_[i];
    f.layers.push_back({.site = s,
                        .precision = precisions_[i],
                        .input = value(index(s.input), s.input),
                        .output = value(index(s.output), s.output)});
  }
  return f;
}

Result<Fidelity> choose_fallback(const Graph& g, const Options& reference, Options candidate,
                                 const std::vector<std::vector<View>>& samples, double min_cosine,
                                 int max_layers, std::set<std::string>* fp32_nodes,
                                 void (*progress)(const FallbackStep&)) {
  const auto measure = [&]() -> Result<Fidelity> {
    candidate.fp32_nodes = *fp32_nodes;
    auto meter = FidelityMeter::create(g, reference, candidate);
    if (!meter.ok()) return meter.status();
    for (const auto& inputs : samples) {
      if (Status s = meter->add(inputs); !s.ok()) return s;
    }
    return meter->result();
  };
  auto best = measure();
  if (!best.ok()) return best;
  if (progress) progress({"", best->min_output_cosine(), true});
  // Each try moves the untried layer that adds the most error; it stays FP32 only if the
  // outputs got closer to FP32 (errors compound, so the largest local error is not always the
  // one that matters).
  std::set<std::string> tried;
  for (int round = 0; round < max_layers && best->min_output_cosine() < min_cosine; ++round) {
    const LayerFidelity* worst = nullptr;
    for (const LayerFidelity& l : best->layers) {
      if (l.precision == "fp32" || tried.count(l.site.node)) continue;
      if (!worst || l.added_error() > worst->added_error()) worst = &l;
    }
    if (!worst) break;  // nothing left to try
    const std::string node = worst->site.node;
    tried.insert(node);
    fp32_nodes->insert(node);
    auto f = measure();
    if (!f.ok()) return f;
    const bool better = f->min_output_cosine() > best->min_output_cosine();
    if (progress) progress({node, f->min_output_cosine(), better});
    if (better) {
      best = std::move(f);
    } else {
      fp32_nodes->erase(node);
    }
  }
  return best;
}

}  // namespace iris::runtime
