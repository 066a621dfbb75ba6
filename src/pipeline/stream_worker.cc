#include "pipeline/stream_worker.h"

#include <filesystem>

#include "core/log.h"

namespace iris::pipeline {

Result<std::unique_ptr<StreamWorker>> StreamWorker::create(const StreamSpec& spec, int width,
                                                           int height, double fps) {
  std::unique_ptr<StreamWorker> w(new StreamWorker(spec));
  w->detector_ = detect::make_detector(spec.detector);
  w->tracker_ = track::make_sort(spec.tracker);
  for (const auto& r : spec.rules) w->rules_.push_back(rules::make_rule(r));
  for (const auto& out : spec.jsonl) {
    auto sink = events::JsonlSink::open(out.path);
    if (!sink.ok()) return sink.status().with_context("stream '" + spec.name + "'");
    w->sinks_.push_back(std::move(sink).value());
    if (out.snapshots) {
      w->snapshot_dirs_.push_back(
          (std::filesystem::path(out.path).parent_path() / "snapshots").string());
    }
  }
  video::WriterOptions opt;
  opt.width = width;
  opt.height = height;
  opt.fps = fps > 0 ? fps : 25;
  for (const auto& out : spec.mp4) {
    auto writer = video::VideoWriter::open(out.path, opt);
    if (!writer.ok()) return writer.status().with_context("stream '" + spec.name + "'");
    w->writers_.push_back(std::move(writer).value());
  }
  return w;
}

void StreamWorker::process(const Frame& frame) {
  try {
    process_frame(frame);
  } catch (const std::exception& e) {
    // A bug or a library failure on one frame must not take every camera down with it.
    log::error("stream '" + spec_.name + "': frame " + std::to_string(frame.index) +
               " failed and was skipped: " + e.what());
    std::lock_guard lock(counters_mu_);
    ++counters_.frame_errors;
  }
}

void StreamWorker::process_frame(const Frame& frame) {
  const bool run_detector = frame_count_++ % spec_.detect_interval == 0;
  track::TrackUpdate tracks;
  if (run_detector) {
    auto dets = detector_->detect({frame});
    if (dets.ok()) {
      tracks = tracker_->update(dets->front(), frame.pts);
      detector_failed_ = false;
    } else {
      // Keep the stream alive: a failed detection is a frame where no detector ran.
      if (!detector_failed_) log::warn("stream '" + spec_.name + "': " + dets.status().message());
      detector_failed_ = true;
      tracks = tracker_->predict(frame.pts);
    }
  } else {
    tracks = tracker_->predict(frame.pts);
  }

  rules::FrameContext ctx{spec_.name,      frame.index,   frame.pts,
                          frame.wall_time, frame.width(), frame.height()};
  std::vector<events::Event> events;
  for (auto& rule : rules_) rule->evaluate(tracks, ctx, &events);
  for (auto& e : events) deliver(e, frame);
  for (const auto& gone : tracks.removed) osd_.track_last_event.erase(gone.id);

  if (!writers_.empty() && output_error_.empty()) write_video(frame, tracks);

  std::lock_guard lock(counters_mu_);
  ++counters_.frames;
  if (run_detector) ++counters_.detector_runs;
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
  int64_t failed = 0;
  for (auto& sink : sinks_) {
    if (Status s = sink->deliver(e); !s) {
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
  for (auto& sink : sinks_) {
    if (Status s = sink->close(); !s && result.ok()) result = s;
  }
  {
    std::lock_guard lock(counters_mu_);
    for (const auto& rule : rules_) counters_.rule_counters[rule->name()] = rule->counters();
  }
  return result;
}

StreamCounters StreamWorker::counters() const {
  std::lock_guard lock(counters_mu_);
  return counters_;
}

}  // namespace iris::pipeline
