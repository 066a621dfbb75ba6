// The ModelServer on real ONNX models: batching across callers, the two knobs, fixed-batch models,
// the bounded queue, flush, shutdown and failures. The "probe" models of make_models.py answer
// each sample with a box at x1 = 60 * (the sample's mean value), so every answer says which
// request it belongs to.
#include "infer/model_server.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>

#include "core/thread_pool.h"
#include "infer/model.h"
#include "infer/test_models.h"

namespace iris::infer {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr int kLongDelayUs = 10'000'000;  // a deadline no test waits for

std::shared_ptr<Model> load_probe(const std::string& file = "probe.onnx") {
  auto model = load_model(test_spec(file, "end2end"));
  EXPECT_TRUE(model.ok()) << model.status().message();
  return model.ok() ? *model : nullptr;
}

std::unique_ptr<ModelServer> serve(const Model& model, const ServerOptions& options) {
  auto server = ModelServer::create("probe", model.loaded(), options);
  EXPECT_TRUE(server.ok()) << server.status().message();
  return server.ok() ? std::move(server).value() : nullptr;
}

// One sample: a 64x64 picture of one gray level, preprocessed as the model asks.
Tensor gray_sample(const Model& model, int gray) {
  auto sample = model.preprocess(cv::Mat(64, 64, CV_8UC3, cv::Scalar::all(gray)));
  EXPECT_TRUE(sample.ok()) << sample.status().message();
  return sample.ok() ? sample->tensor : Tensor{};
}

// The gray level whose sample `outputs` answer, or -1 when they hold no single probe box.
int gray_of(const Model& model, const Result<std::vector<Tensor>>& outputs) {
  if (!outputs.ok()) return -1;
  auto dets = model.detections(*outputs, InputTransform{.source_width = 64, .source_height = 64});
  if (!dets.ok() || dets->size() != 1) return -1;
  const double gray = dets->front().box.x1 / 60 * 255;
  return std::abs(gray - std::round(gray)) < 0.05 ? static_cast<int>(std::round(gray)) : -1;
}

// Collects the answers of requests numbered 0..n-1, from whichever thread they come.
class Answers {
 public:
  ModelServer::Done slot(int i) {
    return [this, i](Result<std::vector<Tensor>> r) {
      std::lock_guard lock(mu_);
      got_.emplace_back(i, std::move(r));
      cv_.notify_all();
    };
  }
  // Waits up to `timeout` for `n` answers; true when they came.
  bool wait(size_t n, milliseconds timeout = milliseconds(20'000)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return got_.size() >= n; });
  }
  size_t count() {
    std::lock_guard lock(mu_);
    return got_.size();
  }
  std::vector<std::pair<int, Result<std::vector<Tensor>>>> all() {
    std::lock_guard lock(mu_);
    return got_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<int, Result<std::vector<Tensor>>>> got_;
};

int64_t samples_run(const ServerStats& s) {
  int64_t n = 0;
  for (size_t size = 0; size < s.batch_sizes.size(); ++size) n += size * s.batch_sizes[size];
  return n;
}

// Eight streams on a pool of four threads, each a Strand with one request in flight at a time,
// submitting its next frame only from the strand once the last answer came back (as a
// StreamWorker does). The pool threads never block on the server, so the requests of different
// streams meet in the queue and run as one batch.
TEST(ModelServer, BatchesAcrossStreamsAndAnswersEachRequestItsOwn) {
  constexpr int kStreams = 8;
  constexpr int kFrames = 10;
  auto model = load_probe();
  ASSERT_TRUE(model);
  auto server = serve(*model, {.max_batch = 8, .max_delay_us = 200'000});
  ASSERT_TRUE(server);
  ASSERT_EQ(server->max_batch(), 8);

  struct Stream {
    explicit Stream(ThreadPool* pool) : strand(pool) {}
    Strand strand;
    int next = 0;               // frame to submit next (strand only)
    std::vector<int> answered;  // gray level each frame's answer encodes (strand only)
    std::vector<std::string> errors;
  };
  // Stream s, frame f: a gray level no other request has.
  auto gray = [](int s, int f) { return 10 + 3 * (s * kFrames + f); };

  ThreadPool pool(4);
  std::vector<std::unique_ptr<Stream>> streams;
  for (int s = 0; s < kStreams; ++s) streams.push_back(std::make_unique<Stream>(&pool));
  std::mutex mu;
  std::condition_variable all_done;
  int finished = 0;

  std::function<void(int)> submit_next = [&](int s) {
    Stream& st = *streams[s];
    if (st.next == kFrames) {
      std::lock_guard lock(mu);
      ++finished;
      all_done.notify_all();
      return;
    }
    Status ok = server->submit(gray_sample(*model, gray(s, st.next++)), false,
                               [&, s](Result<std::vector<Tensor>> r) {
                                 // Back to the stream's strand, as a StreamWorker resumes.
                                 streams[s]->strand.post([&, s, r = std::move(r)] {
                                   if (!r.ok()) streams[s]->errors.push_back(r.status().message());
                                   streams[s]->answered.push_back(gray_of(*model, r));
                                   submit_next(s);
                                 });
                               });
    if (!ok.ok()) st.errors.push_back(ok.message());
  };
  for (int s = 0; s < kStreams; ++s) {
    streams[s]->strand.post([&, s] { submit_next(s); });
  }
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(
        all_done.wait_for(lock, std::chrono::seconds(60), [&] { return finished == kStreams; }));
  }
  for (auto& st : streams) st->strand.drain();

  for (int s = 0; s < kStreams; ++s) {
    SCOPED_TRACE("stream " + std::to_string(s));
    EXPECT_TRUE(streams[s]->errors.empty()) << streams[s]->errors.front();
    std::vector<int> want;
    for (int f = 0; f < kFrames; ++f) want.push_back(gray(s, f));
    EXPECT_EQ(streams[s]->answered, want);
  }
  const ServerStats stats = server->stats();
  EXPECT_EQ(stats.requests, kStreams * kFrames);
  EXPECT_EQ(samples_run(stats), kStreams * kFrames);
  EXPECT_EQ(stats.failed, 0);
  EXPECT_GT(stats.max_batch_seen, 1);
  EXPECT_LE(stats.max_batch_seen, 8);
  EXPECT_LT(stats.batches, kStreams * kFrames / 2) << "batches: mostly of one";
}

// A lone request runs once its max_delay has passed; it never waits for the batch to fill.
TEST(ModelServer, PartialBatchRunsAfterMaxDelay) {
  auto model = load_probe();
  ASSERT_TRUE(model);
  auto server = serve(*model, {.max_batch = 8, .max_delay_us = 50'000});
  ASSERT_TRUE(server);
  Answers answers;
  const auto start = Clock::now();
  ASSERT_TRUE(server->submit(gray_sample(*model, 100), false, answers.slot(0)).ok());
  ASSERT_TRUE(answers.wait(1));
  EXPECT_GE(Clock::now() - start, milliseconds(50));
  EXPECT_EQ(gray_of(*model, answers.all()[0].second), 100);
  const ServerStats stats = server->stats();
  EXPECT_EQ(stats.batches, 1);
  EXPECT_EQ(stats.batch_sizes[1], 1);
}

// A model whose input has a fixed batch of 1 is served one sample at a time, whatever the config
// asks, and still answers every request.
TEST(ModelServer, FixedBatchOfOneRunsEverySampleAlone) {
  auto model = load_probe("probe_b1.onnx");
  ASSERT_TRUE(model);
  ASSERT_EQ(model->info().max_batch, 1);
  auto server = serve(*model, {.max_batch = 8, .max_delay_us = 200'000});
  ASSERT_TRUE(server);
  EXPECT_EQ(server->max_batch(), 1);
  Answers answers;
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(server->submit(gray_sample(*model, 20 + 10 * i), false, answers.slot(i)).ok());
  }
  ASSERT_TRUE(answers.wait(8));
  for (const auto& [i, r] : answers.all()) EXPECT_EQ(gray_of(*model, r), 20 + 10 * i);
  const ServerStats stats = server->stats();
  EXPECT_EQ(stats.batches, 8);
  EXPECT_EQ(stats.max_batch_seen, 1);
  EXPECT_EQ(stats.batch_sizes, (std::vector<int64_t>{0, 8}));
}

// Live callers (may_drop) are refused beyond queue_capacity and counted; callers that must not
// drop (files) are always queued.
TEST(ModelServer, FullQueueRejectsOnlyRequestsThatMayDrop) {
  auto model = load_probe();
  ASSERT_TRUE(model);
  auto server = serve(*model, {.max_batch = 64, .max_delay_us = kLongDelayUs, .queue_capacity = 4});
  ASSERT_TRUE(server);
  Answers answers;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(server->submit(gray_sample(*model, 50 + i), true, answers.slot(i)).ok());
  }
  const Status refused = server->submit(gray_sample(*model, 99), true, answers.slot(99));
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(contains(refused.message(), "model 'probe': request queue full (4 waiting)"));
  for (int i = 4; i < 6; ++i) {
    EXPECT_TRUE(server->submit(gray_sample(*model, 50 + i), false, answers.slot(i)).ok());
  }
  ServerStats stats = server->stats();
  EXPECT_EQ(stats.requests, 6);
  EXPECT_EQ(stats.rejected, 1);
  EXPECT_EQ(stats.queued, 6u);

  server->flush();
  ASSERT_TRUE(answers.wait(6));
  for (const auto& [i, r] : answers.all()) {
    EXPECT_NE(i, 99) << "a refused request was answered";
    EXPECT_EQ(gray_of(*model, r), 50 + i);
  }
  stats = server->stats();
  EXPECT_EQ(stats.rejected, 1);
  EXPECT_EQ(samples_run(stats), 6);
}

// flush() runs what waits now, as one batch, long before its deadline (a stream ended).
TEST(ModelServer, FlushRunsWaitingRequestsAtOnce) {
  auto model = load_probe();
  ASSERT_TRUE(model);
  auto server = serve(*model, {.max_batch = 8, .max_delay_us = kLongDelayUs});
  ASSERT_TRUE(server);
  Answers answers;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(server->submit(gray_sample(*model, 30 * (i + 1)), false, answers.slot(i)).ok());
  }
  EXPECT_FALSE(answers.wait(1, milliseconds(100))) << "ran before its deadline without a flush";
  server->flush();
  ASSERT_TRUE(answers.wait(3, milliseconds(kLongDelayUs / 2000)));
  for (const auto& [i, r] : answers.all()) EXPECT_EQ(gray_of(*model, r), 30 * (i + 1));
  const ServerStats stats = server->stats();
  EXPECT_EQ(stats.batches, 1);
  EXPECT_EQ(stats.batch_sizes[3], 1);
}

// A flush is for what waits at the time: a request that comes after it waits for its batch to
// fill or its deadline as usual, even when it arrives before the flushed batch is done.
TEST(ModelServer, FlushDoesNotHurryLaterRequests) {
  auto model = load_probe();
  ASSERT_TRUE(model);
  auto server = serve(*model, {.max_batch = 8, .max_delay_us = kLongDelayUs});
  ASSERT_TRUE(server);
  Answers answers;
  ModelServer::Done later = answers.slot(1);
  ASSERT_TRUE(server
                  ->submit(gray_sample(*model, 10), false,
                           [&, first = answers.slot(0)](Result<std::vector<Tensor>> r) {
                             // On the server's thread, while the flushed batch finishes.
                             EXPECT_TRUE(
                                 server->submit(gray_sample(*model, 20), false, later).ok());
                             first(std::move(r));
                           })
                  .ok());
  server->flush();
  ASSERT_TRUE(answers.wait(1));
  EXPECT_FALSE(answers.wait(2, milliseconds(200))) << "the later request ran at once";
  server.reset();
  ASSERT_EQ(answers.count(), 2u);
}

// Destroying the server answers every request it accepted, without waiting for deadlines.
TEST(ModelServer, DestructorRunsEveryAcceptedRequest) {
  auto model = load_probe();
  ASSERT_TRUE(model);
  auto server = serve(*model, {.max_batch = 8, .max_delay_us = kLongDelayUs});
  ASSERT_TRUE(server);
  Answers answers;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(server->submit(gray_sample(*model, 40 + i), false, answers.slot(i)).ok());
  }
  const auto start = Clock::now();
  server.reset();
  EXPECT_LT(Clock::now() - start, milliseconds(kLongDelayUs / 2000));
  ASSERT_EQ(answers.count(), 5u);
  for (const auto& [i, r] : answers.all()) EXPECT_EQ(gray_of(*model, r), 40 + i);
}

// A batch the model cannot run fails every sample in it, each told which model failed; requests
// of another shape are batched apart and still succeed.
TEST(ModelServer, FailedBatchGivesEverySampleAnErrorNamingTheModel) {
  auto model = load_probe();
  ASSERT_TRUE(model);
  auto server = serve(*model, {.max_batch = 8, .max_delay_us = kLongDelayUs});
  ASSERT_TRUE(server);
  Tensor wrong;  // 32x32, the model takes 64x64
  wrong.name = "images";
  wrong.shape = {1, 3, 32, 32};
  wrong.data.assign(3 * 32 * 32, 0.5f);
  Answers answers;
  ASSERT_TRUE(server->submit(gray_sample(*model, 70), false, answers.slot(0)).ok());
  for (int i = 1; i <= 4; ++i) ASSERT_TRUE(server->submit(wrong, false, answers.slot(i)).ok());
  ASSERT_TRUE(server->submit(gray_sample(*model, 71), false, answers.slot(5)).ok());
  server->flush();
  ASSERT_TRUE(answers.wait(6));
  for (const auto& [i, r] : answers.all()) {
    SCOPED_TRACE("request " + std::to_string(i));
    if (i == 0 || i == 5) {
      EXPECT_EQ(gray_of(*model, r), 70 + i / 5);
      continue;
    }
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(contains(r.status().message(), "model 'probe': "));
    EXPECT_TRUE(contains(r.status().message(), "[4, 3, 32, 32]"));
  }
  const ServerStats stats = server->stats();
  EXPECT_EQ(stats.failed, 4);
  EXPECT_EQ(stats.batch_sizes[4], 1);  // the four of the wrong shape, together
  EXPECT_EQ(stats.batch_sizes[2], 1);  // the two good ones, apart from them
}

TEST(ModelServer, RequestMustBeOneSample) {
  auto model = load_probe();
  ASSERT_TRUE(model);
  auto server = serve(*model, {});
  ASSERT_TRUE(server);
  Tensor two = gray_sample(*model, 10);
  two.shape[0] = 2;
  Answers answers;
  const Status s = server->submit(two, false, answers.slot(0));
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(),
                       "model 'probe': a request must be one sample (batch 1), got "
                       "[2, 3, 64, 64]"));
  EXPECT_EQ(server->stats().requests, 0);
}

}  // namespace
}  // namespace iris::infer
