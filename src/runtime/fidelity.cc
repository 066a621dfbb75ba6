// FidelityMeter: the FP32 and the candidate model run side by side with every Conv's input and
// output returned, summing a.a, b.b, a.b and (a-b).(a-b) per value; choose_fallback measures one
// candidate after another against the same compiled reference.
#include "runtime/fidelity.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

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
  m.graph_ = g;
  m.sites_ = std::move(*sites);
  for (const ConvSite& s : m.sites_) {
    for (const std::string* v : {&s.input, &s.output}) {
      if (std::find(m.values_.begin(), m.values_.end(), *v) == m.values_.end()) {
        m.values_.push_back(*v);
      }
    }
  }
  reference.extra_outputs = m.values_;
  auto compiled = Model::compile(g, reference);
  if (!compiled.ok()) return compiled.status();
  auto context = (*compiled)->new_context();
  if (!context.ok()) return context.status();
  m.reference_ = std::move(*context);
  if (Status s = m.set_candidate(std::move(candidate)); !s.ok()) return s;
  return m;
}

Status FidelityMeter::set_candidate(Options candidate) {
  candidate.extra_outputs = values_;
  auto model = Model::compile(graph_, candidate);
  if (!model.ok()) return model.status();
  auto context = (*model)->new_context();
  if (!context.ok()) return context.status();
  candidate_ = std::move(*context);
  equalized_.clear();
  for (const std::string& v : values_) {
    const auto it = candidate.equalize.find(v);
    equalized_.push_back(it == candidate.equalize.end() ? std::vector<float>() : it->second);
  }
  model_outputs_ = (*model)->outputs().size() - values_.size();
  output_names_.clear();
  for (size_t i = 0; i < model_outputs_; ++i) output_names_.push_back((*model)->outputs()[i].name);
  std::map<std::string, std::string> precision;  // by layer name
  for (const Layer& l : (*model)->layers()) precision[l.name] = l.precision;
  precisions_.clear();
  for (const ConvSite& s : sites_) precisions_.push_back(precision[s.node]);
  sums_.assign(model_outputs_ + values_.size(), {});
  samples_ = 0;
  return {};
}

Status FidelityMeter::add(const std::vector<View>& inputs) {
  if (Status s = reference_->run(inputs, &a_); !s.ok()) return s;
  if (Status s = candidate_->run(inputs, &b_); !s.ok()) return s;
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
  candidate.fp32_nodes = *fp32_nodes;
  auto meter = FidelityMeter::create(g, reference, candidate);
  if (!meter.ok()) return meter.status();
  const auto measure = [&]() -> Result<Fidelity> {
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
    candidate.fp32_nodes = *fp32_nodes;
    if (Status s = meter->set_candidate(candidate); !s.ok()) return s;
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
