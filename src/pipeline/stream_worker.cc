#include "pipeline/stream_worker.h"

#include <filesystem>

#include "core/clock.h"
#include "core/log.h"

namespace iris::pipeline {
namespace {

// Makes the clips/ directory and removes the placeholders of clips an earlier process never
// finished, which would otherwise read as still recording for ever. Placeholders made since this
// process first got here (by a stream sharing the directory) are recording now: they stay.
Status prepare_clip_dir(const std::string& dir) {
  static const auto started = std::filesystem::file_time_type::clock::now();
  if (Status s = events::make_dirs(dir); !s) return s;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == video::kPlaceholderSuffix &&
        entry.last_write_time(ec) < started) {
      std::filesystem::remove(entry.path(), ec);
    }
  }
  return {};
}

// How long before the frame that raises it an event may be dated: an exit is dated when the
// object left, which a rule knows only after its grace, or after the tracker's max_age for a
// track that was lost. Clips keep their pre-roll before that.
double event_lag(const StreamSpec& spec) {
  double lag = std::visit([](const auto& t) { return t.max_age; }, spec.tracker);
  for (const rules::RuleSpec& rule : spec.rules) {
    if (const auto* zone = std::get_if<rules::ZoneSpec>(&rule)) {
      lag = std::max(lag, zone->exit_grace);
    } else if (const auto* loiter = std::get_if<rules::LoiterSpec>(&rule)) {
      lag = std::max(lag, loiter->max_gap);
    } else if (const auto* crowd = std::get_if<rules::CrowdSpec>(&rule)) {
      lag = std::max(lag, crowd->end_grace);
    }
  }
  return lag;
}

}  // namespace

Result<std::unique_ptr<StreamWorker>> StreamWorker::create(
    const StreamSpec& spec, const StreamInput& input, const infer::ServedModels& models, Post post,
    Histogram* event_latency, events::Delivery* delivery,
    std::shared_ptr<video::ClipRecorder> recorder) {
  std::unique_ptr<StreamWorker> w(new StreamWorker(spec, models, input.live, std::move(post)));
  w->event_latency_ = event_latency;
  w->delivery_ = delivery;
  w->recorder_ = std::move(recorder);
  w->event_lag_ = event_lag(spec);
  if (spec.gate) w->gate_.emplace(*spec.gate);
  auto detector = detect::make_detector(spec.detector, models, input.live);
  if (!detector.ok()) return detector.status().with_context("stream '" + spec.name + "'");
  w->detector_ = std::move(detector).value();
  w->tracker_ = track::make_tracker(spec.tracker);
  for (const auto& r : spec.rules) w->rules_.push_back(rules::make_rule(r));
  for (const auto& out : spec.jsonl) {
    auto sink = events::JsonlSink::open(out.path);
    if (!sink.ok()) return sink.status().with_context("stream '" + spec.name + "'");
    w->sinks_.push_back(std::move(sink).value());
    if (out.snapshots) w->snapshot_dirs_.push_back(out.snapshot_dir());
    if (out.clips && w->recorder_) {
      if (Status s = prepare_clip_dir(out.clip_dir()); !s) {
        return s.with_context("stream '" + spec.name + "'");
      }
      w->clip_outputs_.push_back(out);
    }
  }
  if (input.fps > 0) w->writer_fps_ = input.fps;
  if (input.width > 0) {
    if (Status s = w->open_writers(input.width, input.height); !s) return s;
  } else {
    // A camera's size is known at its first frame; an unwritable path must still fail now.
    for (const auto& out : spec.mp4) {
      const auto dir = std::filesystem::path(out.path).parent_path();
      if (Status s = events::make_dirs(dir.empty() ? "." : dir.string()); !s) {
        return s.with_context("stream '" + spec.name + "'");
      }
    }
  }
  for (const auto& out : spec.mot) {
    auto writer = MotWriter::open(out.path);
    if (!writer.ok()) return writer.status().with_context("stream '" + spec.name + "'");
    w->track_writers_.push_back(std::move(writer).value());
  }
  return w;
}

Status StreamWorker::open_writers(int width, int height) {
  video::WriterOptions opt;
  opt.width = width;
  opt.height = height;
  opt.fps = writer_fps_;
  for (const auto& out : spec_.mp4) {
    auto writer = video::VideoWriter::open(out.path, opt);
    if (!writer.ok()) return writer.status().with_context("stream '" + spec_.name + "'");
    writers_.push_back(std::move(writer).value());
  }
  return Status();
}

void StreamWorker::process(const Frame& frame, std::function<void()> done) {
  if (frame.gap) {
    // What came before the gap (a reconnect, a new frame size) says nothing about what follows.
    gap_removed_ = tracker_->reset();
    last_detections_.reset();
    if (gate_) gate_->reset();
  }
  if (frame_count_++ % spec_.detect_interval != 0) {
    complete(frame, std::nullopt);
    return done();
  }
  std::optional<cv::Rect> region;
  if (gate_) {
    const Gate::Decision d = gate_->decide(frame);
    if (!d.run) {
      // Nothing moved: the last detections still hold, so still objects keep their tracks.
      if (last_detections_) {
        complete(frame, *last_detections_, true);
      } else {
        complete(frame, std::nullopt, true);
      }
      return done();
    }
    region = d.region;
  }
  detect(frame, region, std::move(done));
}

namespace {

// The frame cut to `r`, sharing its pixels.
Frame crop(const Frame& f, const cv::Rect& r) {
  Frame c = f;
  c.picture = std::make_shared<MatPicture>(f.bgr()(r));
  return c;
}

}  // namespace

void StreamWorker::detect(const Frame& frame, std::optional<cv::Rect> region,
                          std::function<void()> done) {
  // A copy of `done`: the catch below still needs it. Called once, so it moves what it holds on.
  auto resume = [this, frame, region, done](Result<std::vector<Detection>> dets) mutable {
    if (dets.ok() && region) {
      // Back to frame pixels; detections outside the moving region stand from the last run.
      for (Detection& d : *dets) {
        d.box = {d.box.x1 + region->x, d.box.y1 + region->y, d.box.x2 + region->x,
                 d.box.y2 + region->y};
      }
      if (last_detections_) {
        for (const Detection& d : *last_detections_) {
          const Point c = d.box.center();
          if (!region->contains(cv::Point(static_cast<int>(c.x), static_cast<int>(c.y)))) {
            dets->push_back(d);
          }
        }
      }
    }
    if (dets.ok() && gate_) last_detections_ = *dets;
    post_(
        [this, frame = std::move(frame), done = std::move(done), dets = std::move(dets)]() mutable {
          if (!dets.ok() || secondary_.empty()) {
            complete(frame, std::move(dets));
            return done();
          }
          try {
            secondary_.run(frame, std::move(dets).value(),
                           [this, frame, done](std::vector<Detection> enriched) {
                             complete(frame, std::move(enriched));
                             done();
                           });
          } catch (const std::exception& e) {
            // Thrown while preparing the crops, before any was submitted.
            complete(frame, Status::error(std::string("secondary models failed: ") + e.what()));
            done();
          }
        });
  };
  try {
    detector_->detect(region ? crop(frame, *region) : frame, std::move(resume));
  } catch (const std::exception& e) {
    // `resume` was not called: nothing was queued for this frame.
    complete(frame, Status::error(std::string("detector failed: ") + e.what()));
    done();
  }
}

void StreamWorker::complete(const Frame& frame,
                            const std::optional<Result<std::vector<Detection>>>& detections,
                            bool held) {
  try {
    complete_frame(frame, detections, held);
  } catch (const std::exception& e) {
    // A bug or a library failure on one frame must not take every camera down with it.
    log::error("stream '" + spec_.name + "': frame " + std::to_string(frame.index) +
               " failed and was skipped: " + e.what());
    std::lock_guard lock(counters_mu_);
    ++counters_.frame_errors;
  }
}

void StreamWorker::complete_frame(const Frame& frame,
                                  const std::optional<Result<std::vector<Detection>>>& detections,
                                  bool held) {
  if (writers_.empty() && !spec_.mp4.empty() && output_error_.empty()) {
    if (Status s = open_writers(frame.width(), frame.height()); !s) {
      log::error("stream '" + spec_.name + "': " + s.message());
      output_error_ = s.message();
    }
  }
  track::TrackUpdate tracks;
  bool detector_error = false;
  if (detections && detections->ok()) {
    tracks = tracker_->update(**detections, frame.pts);
    last_detection_time_ = frame.pts;
    detector_failed_ = false;
  } else {
    if (detections) {
      // Keep the stream alive: a failed detection is a frame where no detector ran.
      const std::string& why = detections->status().message();
      if (!detector_failed_) log::warn("stream '" + spec_.name + "': " + why);
      detector_failed_ = true;
      detector_error = true;
    }
    tracks = tracker_->predict(frame.pts);
  }
  if (!gap_removed_.empty()) {
    tracks.removed.insert(tracks.removed.begin(), gap_removed_.begin(), gap_removed_.end());
    gap_removed_.clear();
  }
  secondary_.update(tracks);

  rules::FrameContext ctx{spec_.name,      frame.index,   frame.pts,
                          frame.wall_time, frame.width(), frame.height()};
  suppression_.update(tracks, ctx);
  std::vector<events::Event> events;
  for (size_t i = 0; i < rules_.size(); ++i) {
    rules_[i]->evaluate(suppression_.input(i), ctx, &events);
  }
  suppression_.cool_down(&events);
  if (recorder_) recorder_->processed(frame.pts - event_lag_);
  for (auto& e : events) deliver(e, frame);
  for (const auto& gone : tracks.removed) osd_.track_last_event.erase(gone.id);

  tap_->publish(frame);
  if ((!writers_.empty() && output_error_.empty()) || tap_->watched()) write_video(frame, tracks);
  for (auto& w : track_writers_) {
    if (!output_error_.empty()) break;
    if (Status s = w->write(frame.index, tracks.tracks, last_detection_time_); !s) {
      log::error("stream '" + spec_.name + "': " + s.message());
      output_error_ = s.message();
    }
  }

  std::lock_guard lock(counters_mu_);
  ++counters_.frames;
  if (detections && !held) ++counters_.detector_runs;
  if (held) ++counters_.gated;
  if (detector_error) ++counters_.detector_errors;
  if (const int64_t n = suppression_.total(); n != suppressed_total_) {
    suppressed_total_ = n;
    counters_.suppressed = suppression_.counters();
  }
  for (const auto& e : events) ++counters_.by_rule[e.rule][e.type];
  if (!events.empty()) {
    for (const auto& rule : rules_) counters_.rule_counters[rule->name()] = rule->counters();
  }
}

void StreamWorker::deliver(events::Event& e, const Frame& frame) {
  osd_.track_last_event[e.track_id] = e.media_time;
  for (const auto& dir : snapshot_dirs_) {
    auto path = events::write_snapshot(frame.bgr(), e, dir);
    if (path.ok()) {
      e.snapshot = *path;
    } else {
      log::warn("stream '" + spec_.name + "': " + path.status().message());
    }
  }
  for (const auto& out : clip_outputs_) {
    const std::string path = (std::filesystem::path(out.clip_dir()) / (e.id + ".mp4")).string();
    if (recorder_->request(path, e.media_time - out.pre_roll, e.media_time + out.post_roll)) {
      e.clip = path;
    }
  }
  const std::string json = events::to_json_line(e);  // once, for the log and every jsonl file
  int64_t failed = 0;
  if (event_latency_) {
    event_latency_->add(wall_seconds() - frame.wall_time);
  }
  // Into the durable log first: an event a jsonl file shows is one the remote sinks will get,
  // even if iris is killed right after. append() holds this strand's pool thread for an
  // fdatasync (~4 ms, shared with other streams appending at once); an exception to "a strand
  // never blocks", accepted because it is once per event, and events are rare next to frames.
  if (delivery_) {
    if (Status s = delivery_->append(e, json); !s) {
      ++failed;
      log::error("stream '" + spec_.name + "': event " + e.id +
                 " is not in the event log, so no remote sink gets it: " + s.message());
    }
  }
  for (auto& sink : sinks_) {
    if (Status s = sink->deliver(json); !s) {
      ++failed;
      log::error("stream '" + spec_.name + "': " + s.message());
    }
  }
  std::lock_guard lock(counters_mu_);
  ++counters_.events;
  counters_.event_errors += failed;
}

void StreamWorker::write_video(const Frame& frame, const track::TrackUpdate& tracks) {
  cv::Mat canvas = frame.bgr().clone();
  draw_osd(canvas, spec_.name, frame.pts, frame.index, tracks, rules_, osd_);
  if (tap_->watched()) tap_->publish_annotated(canvas, frame.index);
  if (!output_error_.empty()) return;
  for (auto& w : writers_) {
    if (Status s = w->write(canvas, frame.pts); !s) {
      log::error("stream '" + spec_.name + "': " + s.message());
      output_error_ = s.message();
      return;
    }
  }
}

Status StreamWorker::finish() {
  Status result = output_error_.empty() ? Status() : Status::error(output_error_);
  for (auto& w : writers_) {
    if (Status s = w->close(); !s && result.ok()) result = s;
  }
  writers_.clear();
  for (auto& w : track_writers_) {
    if (Status s = w->close(); !s && result.ok()) result = s;
  }
  for (auto& sink : sinks_) {
    if (Status s = sink->close(); !s && result.ok()) result = s;
  }
  if (recorder_) recorder_->close();  // the input ended: the clips get what there is
  {
    std::lock_guard lock(counters_mu_);
    for (const auto& rule : rules_) counters_.rule_counters[rule->name()] = rule->counters();
  }
  return result;
}

void StreamWorker::replace_rules(std::vector<rules::RuleSpec> rules) {
  std::vector<std::unique_ptr<rules::Rule>> made;
  for (const auto& r : rules) made.push_back(rules::make_rule(r));
  rules_ = std::move(made);
  suppression_ = rules::Suppression(spec_.suppression, rules);
  spec_.rules = std::move(rules);
  event_lag_ = event_lag(spec_);
  std::lock_guard lock(counters_mu_);
  suppressed_total_ = 0;
  counters_.rule_counters.clear();
  for (const auto& rule : rules_) counters_.rule_counters[rule->name()] = rule->counters();
}

StreamCounters StreamWorker::counters() const {
  std::lock_guard lock(counters_mu_);
  StreamCounters c = counters_;
  c.secondary_failures = secondary_.failures();
  return c;
}

}  // namespace iris::pipeline
