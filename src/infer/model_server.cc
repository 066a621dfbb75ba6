#include "infer/model_server.h"

#include <algorithm>
#include <chrono>

namespace iris::infer {

Result<std::unique_ptr<ModelServer>> ModelServer::create(std::string name,
                                                         std::shared_ptr<const LoadedModel> model,
                                                         const ServerOptions& options) {
  const int model_max = model->info().max_batch;
  int max_batch = std::max(1, options.max_batch);
  if (model_max > 0) max_batch = std::min(max_batch, model_max);
  std::unique_ptr<ModelServer> server(new ModelServer(std::move(name), max_batch, options));
  server->stats_.batch_sizes.assign(max_batch + 1, 0);
  for (int i = 0; i < std::max(1, options.instances); ++i) {
    auto context = model->new_context();
    if (!context.ok()) return context.status().with_context("model '" + server->name_ + "'");
    server->contexts_.push_back(std::move(context).value());
  }
  for (auto& context : server->contexts_) {
    server->workers_.emplace_back([s = server.get(), c = context.get()] { s->run(c); });
  }
  return server;
}

ModelServer::~ModelServer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& w : workers_) w.join();
}

Status ModelServer::submit(Tensor input, bool may_drop, Done done) {
  if (input.shape.empty() || input.shape[0] != 1) {
    return Status::error("model '" + name_ + "': a request must be one sample (batch 1), got " +
                         shape_string(input.shape));
  }
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Status::error("model '" + name_ + "' is shutting down");
    if (may_drop && queue_.size() >= static_cast<size_t>(options_.queue_capacity)) {
      ++stats_.rejected;
      return Status::error("model '" + name_ + "': request queue full (" +
                           std::to_string(options_.queue_capacity) +
                           " waiting); the model is slower than its callers");
    }
    ++stats_.requests;
    queue_.push_back({std::move(input), std::move(done), std::chrono::steady_clock::now()});
  }
  cv_.notify_one();
  return Status();
}

void ModelServer::flush() {
  {
    std::lock_guard lock(mu_);
    flushed_ = std::chrono::steady_clock::now();
  }
  cv_.notify_all();
}

void ModelServer::run(Context* context) {
  for (;;) {
    std::vector<Request> batch = next_batch();
    if (batch.empty()) return;
    execute(context, batch);
  }
}

// Waits until a batch is due, then takes up to max_batch requests of the oldest one's shape.
std::vector<ModelServer::Request> ModelServer::next_batch() {
  std::unique_lock lock(mu_);
  for (;;) {
    if (queue_.empty()) {
      if (stopping_) return {};
      cv_.wait(lock);
      continue;
    }
    const auto deadline = queue_.front().arrived + std::chrono::microseconds(options_.max_delay_us);
    if (queue_.size() >= static_cast<size_t>(max_batch_) || queue_.front().arrived <= flushed_ ||
        stopping_ || std::chrono::steady_clock::now() >= deadline) {
      break;
    }
    cv_.wait_until(lock, deadline);
  }
  std::vector<Request> batch;
  const std::vector<int64_t> shape = queue_.front().input.shape;
  for (auto it = queue_.begin();
       it != queue_.end() && batch.size() < static_cast<size_t>(max_batch_);) {
    if (it->input.shape == shape) {
      batch.push_back(std::move(*it));
      it = queue_.erase(it);
    } else {
      ++it;
    }
  }
  // More may be due already: let another worker look.
  if (!queue_.empty()) cv_.notify_one();
  return batch;
}

namespace {

// Splits each batched output into one tensor per sample.
Result<std::vector<std::vector<Tensor>>> split(std::vector<Tensor> outputs, size_t n) {
  for (const Tensor& out : outputs) {
    if (out.shape.empty() || out.shape[0] != static_cast<int64_t>(n)) {
      return Status::error("output '" + out.name + "' has shape " + shape_string(out.shape) +
                           ", expected the batch of " + std::to_string(n) + " first");
    }
  }
  std::vector<std::vector<Tensor>> per_sample(n);
  if (n == 1) {  // already the one sample's answer: no copy on the common path
    per_sample[0] = std::move(outputs);
    return per_sample;
  }
  for (const Tensor& out : outputs) {
    const size_t stride = out.data.size() / n;
    for (size_t i = 0; i < n; ++i) {
      Tensor t;
      t.name = out.name;
      t.shape = out.shape;
      t.shape[0] = 1;
      t.data.assign(out.data.begin() + i * stride, out.data.begin() + (i + 1) * stride);
      per_sample[i].push_back(std::move(t));
    }
  }
  return per_sample;
}

}  // namespace

void ModelServer::execute(Context* context, std::vector<Request>& batch) {
  const size_t n = batch.size();
  Tensor input;
  input.name = batch.front().input.name;
  input.shape = batch.front().input.shape;
  input.shape[0] = static_cast<int64_t>(n);
  if (n == 1) {
    input.data = std::move(batch.front().input.data);
  } else {
    input.data.reserve(batch.front().input.data.size() * n);
    for (const Request& r : batch) {
      input.data.insert(input.data.end(), r.input.data.begin(), r.input.data.end());
    }
  }

  const auto start = std::chrono::steady_clock::now();
  for (const Request& r : batch) {
    queue_delay_.add(std::chrono::duration<double>(start - r.arrived).count());
  }
  auto outputs = context->infer(input);
  using PerSample = Result<std::vector<std::vector<Tensor>>>;
  PerSample results = outputs.ok() ? split(std::move(*outputs), n) : PerSample(outputs.status());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  {
    std::lock_guard lock(mu_);
    ++stats_.batches;
    ++stats_.batch_sizes[n];
    stats_.max_batch_seen = std::max<int64_t>(stats_.max_batch_seen, n);
    stats_.infer_seconds += seconds;
    batch_seconds_.add(seconds);
    if (!results.ok()) stats_.failed += static_cast<int64_t>(n);
  }
  for (size_t i = 0; i < n; ++i) {
    if (results.ok()) {
      batch[i].done(std::move((*results)[i]));
    } else {
      batch[i].done(results.status().with_context("model '" + name_ + "'"));
    }
  }
}

ServerStats ModelServer::stats() const {
  std::lock_guard lock(mu_);
  ServerStats s = stats_;
  s.queued = queue_.size();
  return s;
}

}  // namespace iris::infer
