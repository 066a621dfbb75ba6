#include "server/live.h"

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "server/picture.h"

namespace iris::server {
namespace {

using Clock = std::chrono::steady_clock;
using Part = PartSource::Part;
using Deliver = std::function<void(Part)>;

// How long a stream may go without a new frame before its last one is sent again.
constexpr auto kResend = std::chrono::seconds(2);

std::string mjpeg_part(const std::string& jpeg) {
  return "--irisframe\r\nContent-Type: image/jpeg\r\nContent-Length: " +
         std::to_string(jpeg.size()) + "\r\n\r\n" + jpeg + "\r\n";
}

}  // namespace

struct LiveView::Hub {
  std::function<bool(const std::string&)> exists;
  Clock::duration period;
  size_t max_viewers = 0;

  std::mutex mu;  // guards everything below
  std::condition_variable cv;
  bool stopped = false;
  std::vector<std::weak_ptr<Viewer>> viewers;
  size_t count = 0;  // viewers alive
};

class LiveView::Viewer : public PartSource {
 public:
  Viewer(std::shared_ptr<Hub> hub, std::string stream, std::shared_ptr<pipeline::FrameTap> tap)
      : hub_(std::move(hub)), stream_(std::move(stream)), tap_(std::move(tap)) {
    tap_->watch();
  }
  ~Viewer() override {
    tap_->unwatch();
    std::lock_guard lock(hub_->mu);
    --hub_->count;
  }

  void next(Deliver deliver) override {
    {
      std::lock_guard lock(hub_->mu);
      if (!hub_->stopped) {
        pending_ = std::move(deliver);
        return;
      }
    }
    deliver(nullptr);
  }

 private:
  friend class LiveView;
  std::shared_ptr<Hub> hub_;
  const std::string stream_;
  const std::shared_ptr<pipeline::FrameTap> tap_;
  // Guarded by hub_->mu.
  Deliver pending_;
  uint64_t seen_ = 0;  // the sequence number of the last part sent
  Clock::time_point sent_at_;
};

LiveView::LiveView(std::function<bool(const std::string&)> exists, int fps, size_t max_viewers)
    : hub_(std::make_shared<Hub>()) {
  hub_->exists = std::move(exists);
  hub_->period = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(1.0 / std::max(1, fps)));
  hub_->max_viewers = max_viewers;
  thread_ = std::thread([this] { run(); });
}

LiveView::~LiveView() {
  std::vector<std::shared_ptr<Viewer>> alive;  // released after the lock: see run()
  std::vector<Deliver> ends;
  {
    std::lock_guard lock(hub_->mu);
    hub_->stopped = true;
    for (auto& weak : hub_->viewers) {
      if (auto v = weak.lock()) {
        if (v->pending_) ends.push_back(std::exchange(v->pending_, nullptr));
        alive.push_back(std::move(v));
      }
    }
    hub_->viewers.clear();
  }
  hub_->cv.notify_all();
  thread_.join();
  for (auto& end : ends) end(nullptr);
}

Result<std::shared_ptr<PartSource>> LiveView::open(const std::string& stream,
                                                   std::shared_ptr<pipeline::FrameTap> tap) {
  std::lock_guard lock(hub_->mu);
  if (hub_->count >= hub_->max_viewers) {
    return Status::error("the server has " + std::to_string(hub_->max_viewers) +
                         " live viewers already (--max-viewers); try again later");
  }
  auto viewer = std::make_shared<Viewer>(hub_, stream, std::move(tap));
  ++hub_->count;
  hub_->viewers.push_back(viewer);
  return std::shared_ptr<PartSource>(viewer);
}

void LiveView::run() {
  struct Channel {
    std::shared_ptr<pipeline::FrameTap> tap;
    int64_t index = -1;  // of the frame encoded
    Part part;
    uint64_t seq = 0;
    bool gone = false;
  };
  std::map<std::string, Channel> channels;
  std::unique_lock lock(hub_->mu);
  while (!hub_->stopped) {
    hub_->cv.wait_for(lock, hub_->period);
    if (hub_->stopped) break;
    // Held until the lock is released: a viewer's destructor takes the lock.
    std::vector<std::shared_ptr<Viewer>> alive;
    for (const auto& weak : hub_->viewers) {
      if (auto v = weak.lock()) alive.push_back(std::move(v));
    }
    std::erase_if(hub_->viewers, [](const std::weak_ptr<Viewer>& v) { return v.expired(); });
    std::map<std::string, Channel> watched;
    for (const auto& v : alive) {
      if (watched.count(v->stream_)) continue;
      Channel c = channels[v->stream_];
      c.tap = v->tap_;
      watched.emplace(v->stream_, std::move(c));
    }
    channels = std::move(watched);
    lock.unlock();

    // Encode each stream's new frame once, for all its viewers, without holding the lock.
    for (auto& [stream, c] : channels) {
      c.gone = !hub_->exists(stream);
      if (c.gone) continue;
      pipeline::FrameTap::Picture picture = c.tap->latest(true);
      if (picture.bgr.empty()) picture = c.tap->latest(false);  // not drawn yet, or paused
      if (picture.bgr.empty() || picture.index == c.index) continue;
      c.part = std::make_shared<const std::string>(mjpeg_part(encode_jpeg(picture.bgr, 75)));
      c.index = picture.index;
      ++c.seq;
    }

    lock.lock();
    std::vector<std::pair<Deliver, Part>> sends;
    const auto now = Clock::now();
    for (const auto& v : alive) {
      if (!v->pending_) continue;
      const Channel& c = channels[v->stream_];
      if (c.gone) {
        sends.emplace_back(std::exchange(v->pending_, nullptr), nullptr);
      } else if (c.part && (v->seen_ < c.seq || now - v->sent_at_ >= kResend)) {
        v->seen_ = c.seq;
        v->sent_at_ = now;
        sends.emplace_back(std::exchange(v->pending_, nullptr), c.part);
      }
    }
    lock.unlock();
    for (auto& [deliver, part] : sends) deliver(std::move(part));
    sends.clear();
    alive.clear();
    lock.lock();
  }
}

}  // namespace iris::server
