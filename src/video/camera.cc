#include "video/camera.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "core/clock.h"
#include "core/log.h"
#include "core/text.h"

namespace iris::video {

const char* link_state_name(LinkState s) {
  switch (s) {
    case LinkState::kConnecting:
      return "connecting";
    case LinkState::kLive:
      return "live";
    case LinkState::kStalled:
      return "stalled";
    case LinkState::kReconnecting:
      return "reconnecting";
    case LinkState::kEnded:
      return "ended";
    case LinkState::kFailed:
      return "failed";
  }
  return "unknown";
}

Camera::Camera(CameraOptions options) : options_(std::move(options)), rng_(std::random_device{}()) {
  info_.live = is_url(options_.source.url) || options_.source.emulate_live;
}

Camera::~Camera() = default;

Result<std::unique_ptr<Camera>> Camera::open(const CameraOptions& options) {
  const ReconnectPolicy& p = options.reconnect;
  if (!(p.initial_delay >= 0) || !(p.max_delay >= 0) || !(p.multiplier >= 1) ||
      !(p.jitter >= 0 && p.jitter < 1) || p.max_attempts < 0) {
    return Status::error("camera '" + options.source.url +
                         "': invalid reconnect policy; delays must be >= 0, multiplier >= 1, "
                         "jitter in [0, 1) and max_attempts >= 0");
  }
  if (Status s = check_options(options.source); !s) return s;
  std::unique_ptr<Camera> c(new Camera(options));
  if (!is_url(options.source.url)) {
    if (Status s = c->connect(); !s) return s;
  }
  return c;
}

bool Camera::stopping() const { return options_.source.stop && options_.source.stop->load(); }

std::string Camera::who() const {
  return "camera '" + (options_.name.empty() ? url() : options_.name) + "'";
}

void Camera::set_state(LinkState state, const std::string& reason) {
  LinkState was;
  {
    std::lock_guard lock(mu_);
    was = status_.state;
    status_.state = state;
    status_.reason = reason;
  }
  if (state == was) return;
  const std::string line =
      who() + ": " + link_state_name(state) + (reason.empty() ? "" : ": " + reason);
  if (state == LinkState::kFailed) {
    log::error(line);
  } else if (state == LinkState::kReconnecting) {
    log::warn(line);
  } else {
    log::info(line);
  }
}

bool Camera::out_of_attempts() const {
  return options_.reconnect.max_attempts > 0 && failures_ >= options_.reconnect.max_attempts;
}

Status Camera::give_up(const std::string& reason) {
  const std::string why =
      "gave up after " + std::to_string(failures_) + " failed attempts: " + reason;
  set_state(LinkState::kFailed, why);
  return Status::error(who() + ": " + why);
}

Status Camera::connect() {
  const ReconnectPolicy& p = options_.reconnect;
  // Every attempt but the first is a retry (after a refusal or a drop, which a retry at once would
  // find as it just was): back off first.
  if (connected_once_ || failures_ > 0) {
    const double base = std::min(
        p.max_delay, p.initial_delay * std::pow(p.multiplier, static_cast<double>(retries_)));
    std::uniform_real_distribution<double> spread(1 - p.jitter, 1 + p.jitter);
    ++retries_;
    const double delay = base * spread(rng_);
    if (!sleep_until(steady_ns() + static_cast<int64_t>(delay * 1e9), options_.source.stop)) {
      return Status::error("stopped");
    }
  }
  {
    std::lock_guard lock(mu_);
    ++status_.attempts;
  }
  auto source = Source::open(options_.source);
  if (!source.ok()) {
    ++failures_;
    return source.status();
  }
  flowing_ = false;
  if (last_pts_ >= 0) {
    // The new Source starts its clock at 0: continue where the last one stopped.
    pts_offset_ = last_pts_ + step_;
    index_offset_ = last_index_ + 1;
    gap_ = true;
  }
  const StreamInfo info = (*source)->info();
  step_ = frame_step(info.fps);
  std::lock_guard lock(mu_);
  if (connected_once_) ++status_.reconnects;
  connected_once_ = true;
  source_ = std::move(source).value();
  info_ = info;
  status_.fps = info.fps;
  return {};
}

void Camera::close_source() {
  std::unique_ptr<Source> old;
  {
    std::lock_guard lock(mu_);
    if (!source_) return;
    status_.decode_errors += source_->decode_errors();
    status_.dropped += source_->dropped();
    old = std::move(source_);
  }
}

void Camera::disconnect() {
  close_source();
  connected_once_ = false;
  failures_ = 0;
  retries_ = 0;
  std::lock_guard lock(mu_);
  // Quietly: the owner knows why (a pause), and the reconnect logs the camera live again.
  status_.state = LinkState::kConnecting;
  status_.reason.clear();
}

Frame Camera::deliver(Frame f) {
  if (!flowing_) {  // an attempt succeeds when frames flow, not when the server answers
    flowing_ = true;
    failures_ = 0;
    retries_ = 0;
  }
  f.pts += pts_offset_;
  f.index += index_offset_;
  if (last_pts_ >= 0 && f.pts <= last_pts_) f.pts = last_pts_ + step_;
  if (f.index <= last_index_) f.index = last_index_ + 1;
  f.gap = f.gap || gap_;
  gap_ = false;
  last_pts_ = f.pts;
  last_index_ = f.index;
  bool was_stalled;
  {
    std::lock_guard lock(mu_);
    last_frame_ns_ = steady_ns();
    status_.width = f.width();
    status_.height = f.height();
    info_.width = f.width();
    info_.height = f.height();
    was_stalled = std::exchange(stall_logged_, false);
  }
  // A stall is only seen (and logged) by status(): the state itself stayed live.
  if (was_stalled) log::info(who() + ": live again");
  // Read without mu_: only this thread writes the state, and live it already is most frames.
  if (status_.state != LinkState::kLive) set_state(LinkState::kLive, "");
  return f;
}

Result<std::optional<Frame>> Camera::read() {
  {
    std::lock_guard lock(mu_);
    if (status_.state == LinkState::kEnded) return std::optional<Frame>();
    if (status_.state == LinkState::kFailed) return Status::error(status_.reason);
  }
  for (;;) {
    if (stopping()) {
      set_state(LinkState::kEnded, "stopped");
      return std::optional<Frame>();
    }
    if (!source_) {
      const Status s = connect();
      if (stopping()) continue;
      if (!s) {
        if (out_of_attempts()) return give_up(s.message());
        set_state(LinkState::kReconnecting, s.message());
        continue;
      }
    }
    auto r = source_->read();
    if (r.ok() && r->has_value()) return std::optional<Frame>(deliver(std::move(**r)));
    if (stopping()) continue;
    if (!info_.live) {  // a file: its end is the end, its read error final
      close_source();
      if (r.ok()) {
        set_state(LinkState::kEnded, "stream ended");
        return std::optional<Frame>();
      }
      set_state(LinkState::kFailed, r.status().message());
      return r.status();
    }
    // A camera's end is its server going away: as much an outage as an error.
    close_source();
    const std::string reason = r.ok() ? "stream ended" : r.status().message();
    // A server that answers and then sends nothing is no better than one that refuses.
    if (!flowing_) ++failures_;
    if (out_of_attempts()) return give_up(reason);
    set_state(LinkState::kReconnecting, reason);
  }
}

LinkStatus Camera::status() const {
  std::lock_guard lock(mu_);
  LinkStatus s = status_;
  if (source_) {
    s.decode_errors += source_->decode_errors();
    s.dropped += source_->dropped();
  }
  if (s.state == LinkState::kLive && info_.live &&
      steady_ns() - last_frame_ns_ > static_cast<int64_t>(options_.stall_after * 1e9)) {
    s.state = LinkState::kStalled;
    s.reason = "no frame for " + seconds_text(options_.stall_after);
    if (!stall_logged_) {
      stall_logged_ = true;
      log::warn(who() + ": stalled: " + s.reason);
    }
  }
  return s;
}

bool Camera::live() const {
  std::lock_guard lock(mu_);
  return info_.live;
}

StreamInfo Camera::info() const {
  std::lock_guard lock(mu_);
  return info_;
}

}  // namespace iris::video
