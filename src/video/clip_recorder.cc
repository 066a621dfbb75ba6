#include "video/clip_recorder.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

#include "core/log.h"
#include "video/av_error.h"

namespace iris::video {
namespace {

constexpr double kUnmarked = std::numeric_limits<double>::quiet_NaN();

// Unmarked packets (read, not yet decoded into a frame) are later than every marked one.
bool at_or_before(double time, double limit) { return !std::isnan(time) && time <= limit; }

}  // namespace

ClipRecorder::ClipRecorder(double pre_roll, size_t max_bytes)
    : pre_roll_(pre_roll), max_bytes_(max_bytes) {}

ClipRecorder::~ClipRecorder() {
  std::lock_guard lock(mu_);
  for (const Request& r : pending_) std::remove(clip_placeholder(r.path).c_str());
  clear();
}

void ClipRecorder::clear() {
  while (!entries_.empty()) drop_front();
  avcodec_parameters_free(&par_);
  last_dts_ = INT64_MIN;
  shift_ = 0;
}

void ClipRecorder::drop_front() {
  Entry& e = entries_.front();
  if (!keys_.empty() && keys_.front() == e.seq) keys_.pop_front();
  bytes_ -= e.packet->size;
  av_packet_free(&e.packet);
  entries_.pop_front();
}

void ClipRecorder::drop_to_second_key() {
  const uint64_t second = keys_[1];
  while (entries_.front().seq < second) drop_front();
}

void ClipRecorder::begin(const AVStream* stream, double fps) {
  std::vector<Cut> cuts;
  {
    std::lock_guard lock(mu_);
    for (const Request& r : pending_) cuts.push_back(*cut(r, true));
    pending_.clear();
    clear();
    par_ = avcodec_parameters_alloc();
    avcodec_parameters_copy(par_, stream->codecpar);
    // MP4 holds H.264, H.265, MPEG-4 and a few more; an old codec (a DivX AVI) cannot be copied
    // into it, and re-encoding every camera is what clips from packets avoid.
    storable_ = avformat_query_codec(av_guess_format("mp4", nullptr, nullptr), par_->codec_id,
                                     FF_COMPLIANCE_NORMAL) == 1;
    if (!storable_) {
      const AVCodecDescriptor* d = avcodec_descriptor_get(par_->codec_id);
      log::warn("clips: the stream's codec " + std::string(d ? d->name : "(unknown)") +
                " cannot be stored in MP4 without re-encoding; its events get no clips");
    }
    tb_num_ = stream->time_base.num;
    tb_den_ = stream->time_base.den;
    const double frame_seconds = fps > 0 ? 1.0 / fps : 0.04;
    frame_ticks_ = std::max<int64_t>(1, std::llround(frame_seconds * tb_den_ / tb_num_));
  }
  for (Cut& c : cuts) write(c);
}

void ClipRecorder::push(const AVPacket* packet) {
  std::lock_guard lock(mu_);
  if (!par_ || !storable_) return;
  AVPacket* p = av_packet_clone(packet);
  if (!p) return;
  // MP4 wants strictly increasing decode times, and presentation times not before them. A looped
  // file starts its timestamps again: later packets are shifted to follow on. A camera's first
  // packets may have no decode time (the demuxer infers it only after the reorder delay): they get
  // the next tick.
  int64_t dts;
  if (p->dts == AV_NOPTS_VALUE) {
    const bool first = last_dts_ == INT64_MIN;
    dts = !first ? last_dts_ + 1 : p->pts != AV_NOPTS_VALUE ? p->pts + shift_ : 0;
  } else {
    dts = p->dts + shift_;
    if (last_dts_ != INT64_MIN && dts <= last_dts_) {
      shift_ += last_dts_ + frame_ticks_ - dts;
      dts = last_dts_ + frame_ticks_;
    }
  }
  const int64_t pts = p->pts != AV_NOPTS_VALUE ? p->pts + shift_ : dts;
  p->dts = dts;
  p->pts = std::max(pts, dts);
  last_dts_ = dts;
  const uint64_t seq = next_seq_++;
  if (p->flags & AV_PKT_FLAG_KEY) keys_.push_back(seq);
  bytes_ += p->size;
  entries_.push_back({p, kUnmarked, seq});
  trim();
}

void ClipRecorder::trim() {
  // Packets before the first key frame cannot start a clip.
  while (!entries_.empty() && (keys_.empty() || entries_.front().seq < keys_.front())) {
    if (keys_.empty() && bytes_ <= max_bytes_) break;  // the first key frame is yet to come
    drop_front();
  }
  double limit = processed_ < 0 ? -1 : processed_ - pre_roll_;
  for (const Request& r : pending_) limit = std::min(limit, r.start);
  // Keep the last key frame at or before the limit: a clip starting there can be decoded.
  while (keys_.size() >= 2 && at_or_before(entries_[keys_[1] - entries_.front().seq].time, limit)) {
    drop_to_second_key();
  }
  if (bytes_ <= max_bytes_) return;
  if (!trimmed_warned_) {
    trimmed_warned_ = true;
    log::warn("clips: more than " + std::to_string(max_bytes_ >> 20) +
              " MB of video within the pre-roll; the oldest is dropped, so clips start later "
              "than asked (shorten pre_roll, or give the camera shorter key frame intervals)");
  }
  while (bytes_ > max_bytes_ && keys_.size() >= 2) drop_to_second_key();
  // One key frame and more than the limit after it (a camera that refreshes without key frames):
  // nothing can be cut short of it, so start again at the next key frame.
  if (bytes_ > max_bytes_) {
    while (!entries_.empty()) drop_front();
  }
}

void ClipRecorder::mark(double time) {
  std::vector<Cut> cuts;
  {
    std::lock_guard lock(mu_);
    for (auto it = entries_.rbegin(); it != entries_.rend() && std::isnan(it->time); ++it) {
      it->time = time;
    }
    for (auto it = pending_.begin(); it != pending_.end();) {
      std::optional<Cut> c;
      if (it->end <= time) c = cut(*it, false);
      if (c) {
        cuts.push_back(std::move(*c));
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
    trim();
  }
  for (Cut& c : cuts) write(c);
}

void ClipRecorder::processed(double time) {
  std::lock_guard lock(mu_);
  processed_ = time;
  trim();
}

bool ClipRecorder::request(const std::string& path, double start, double end) {
  std::lock_guard lock(mu_);
  if (par_ && !storable_) {  // said once, at begin()
    ++failed_;
    return false;
  }
  if (pending_.size() >= kMaxPending) {
    ++refused_;
    log::warn("clips: no clip '" + path + "': " + std::to_string(kMaxPending) +
              " clips of this stream are already being recorded");
    return false;
  }
  if (!std::ofstream(clip_placeholder(path))) {
    ++failed_;
    log::warn("clips: cannot create '" + clip_placeholder(path) +
              "'; check that its directory exists and is writable");
    return false;
  }
  pending_.push_back({path, start, end});
  return true;
}

void ClipRecorder::close() {
  std::vector<Cut> cuts;
  {
    std::lock_guard lock(mu_);
    for (const Request& r : pending_) cuts.push_back(*cut(r, true));
    pending_.clear();
  }
  for (Cut& c : cuts) write(c);
}

ClipStats ClipRecorder::stats() const {
  std::lock_guard lock(mu_);
  ClipStats s;
  // Unmarked packets (read, not yet decoded) are all at the back.
  const auto last = std::find_if(entries_.rbegin(), entries_.rend(),
                                 [](const Entry& e) { return !std::isnan(e.time); });
  if (last != entries_.rend()) s.seconds = last->time - entries_.front().time;
  s.bytes = bytes_;
  s.pending = pending_.size();
  s.written = written_;
  s.failed = failed_;
  s.refused = refused_;
  return s;
}

std::optional<ClipRecorder::Cut> ClipRecorder::cut(const Request& r, bool now) const {
  Cut c;
  c.path = r.path;
  if (!par_ || keys_.empty()) return c;
  const uint64_t front = entries_.front().seq;
  // The last key frame at or before the start; the first one kept if none is that early.
  uint64_t start = keys_.front();
  for (uint64_t k : keys_) {
    if (!at_or_before(entries_[k - front].time, r.start)) break;
    start = k;
  }
  size_t end = start - front;
  int64_t top = INT64_MIN;  // the latest presentation time taken
  for (; end < entries_.size() && at_or_before(entries_[end].time, r.end); ++end) {
    top = std::max(top, entries_[end].packet->pts);
  }
  // Frames reordered around the end (B-frames shown before the last frame taken) come after it:
  // take them too, or the clip would skip frames at its end. Wait for them while they are unread.
  while (end < entries_.size() && entries_[end].packet->pts < top) ++end;
  if (end == entries_.size() && !now) return std::nullopt;
  for (size_t i = start - front; i < end; ++i) {
    c.packets.push_back(av_packet_clone(entries_[i].packet));
  }
  c.par = avcodec_parameters_alloc();
  avcodec_parameters_copy(c.par, par_);
  c.tb_num = tb_num_;
  c.tb_den = tb_den_;
  return c;
}

std::string ClipRecorder::mux(Cut& c, const std::string& part) {
  AVFormatContext* oc = nullptr;
  int rc = avformat_alloc_output_context2(&oc, nullptr, "mp4", part.c_str());
  if (rc < 0) return av_error(rc);
  AVStream* st = avformat_new_stream(oc, nullptr);
  if (!st) {
    avformat_free_context(oc);
    return "out of memory";
  }
  avcodec_parameters_copy(st->codecpar, c.par);
  st->codecpar->codec_tag = 0;  // the input container's tag may mean nothing to MP4
  const AVRational tb{c.tb_num, c.tb_den};
  st->time_base = tb;
  AVDictionary* opts = nullptr;
  av_dict_set(&opts, "movflags", "+faststart", 0);  // the index first: plays while loading
  rc = avio_open(&oc->pb, part.c_str(), AVIO_FLAG_WRITE);
  if (rc >= 0) rc = avformat_write_header(oc, &opts);
  av_dict_free(&opts);
  const int64_t base = c.packets.front()->dts;
  for (size_t i = 0; rc >= 0 && i < c.packets.size(); ++i) {
    AVPacket* p = c.packets[i];
    p->pts -= base;
    p->dts -= base;
    p->stream_index = 0;
    p->pos = -1;
    av_packet_rescale_ts(p, tb, st->time_base);
    rc = av_write_frame(oc, p);
  }
  if (rc >= 0) rc = av_write_trailer(oc);
  avio_closep(&oc->pb);
  avformat_free_context(oc);
  return rc < 0 ? "cannot write it as MP4 (" + av_error(rc) + ")" : "";
}

void ClipRecorder::write(Cut& c) {
  const std::string part = clip_placeholder(c.path);
  std::string error = c.packets.empty() ? "no video of its time is held (none read yet, the "
                                          "stream ended, or it is older than the pre-roll kept)"
                                        : mux(c, part);
  for (AVPacket*& p : c.packets) av_packet_free(&p);
  avcodec_parameters_free(&c.par);
  std::error_code ec;
  if (error.empty()) std::filesystem::rename(part, c.path, ec);
  if (error.empty() && ec) error = "cannot rename it into place: " + ec.message();
  if (!error.empty()) {
    std::filesystem::remove(part, ec);
    log::warn("clips: no clip '" + c.path + "': " + error);
  }
  std::lock_guard lock(mu_);
  ++(error.empty() ? written_ : failed_);
}

}  // namespace iris::video
