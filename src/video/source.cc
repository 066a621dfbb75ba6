#include "video/source.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <thread>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
}

#include <opencv2/imgproc.hpp>

#include "core/clock.h"
#include "core/text.h"
#include "video/av_error.h"

namespace iris::video {
namespace {

constexpr int kMaxConsecutiveErrors = 200;  // corrupt packets tolerated in a row
constexpr int kMaxUntimedDrops = 8;         // a camera's leading frames without a timestamp dropped

bool luma_first(AVPixelFormat f) {
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(f);
  return d && !(d->flags & AV_PIX_FMT_FLAG_RGB) && !(d->flags & AV_PIX_FMT_FLAG_PAL) &&
         d->nb_components >= 1 && d->comp[0].plane == 0 && d->comp[0].step == 1 &&
         d->comp[0].depth == 8;
}

// A scaler from `f` to w x h in `dst`, kept per thread and output format and reused while the
// sizes stay the same: making one costs about a third of a conversion.
SwsContext* scaler(const AVFrame* f, int w, int h, AVPixelFormat dst) {
  struct Cache {
    SwsContext* bgr = nullptr;
    SwsContext* other = nullptr;
    ~Cache() {
      sws_freeContext(bgr);
      sws_freeContext(other);
    }
  };
  thread_local Cache cache;
  SwsContext*& sws = dst == AV_PIX_FMT_BGR24 ? cache.bgr : cache.other;
  sws = sws_getCachedContext(sws, f->width, f->height, static_cast<AVPixelFormat>(f->format), w, h,
                             dst, SWS_BILINEAR, nullptr, nullptr, nullptr);
  return sws;
}

// A decoded FFmpeg frame, shared by reference; converted on first use.
class AvPicture : public Picture {
 public:
  explicit AvPicture(const AVFrame* f) : f_(av_frame_clone(f)) {}
  ~AvPicture() override { av_frame_free(&f_); }
  int width() const override { return f_->width; }
  int height() const override { return f_->height; }

 protected:
  cv::Mat make_bgr() const override { return convert(f_->width, f_->height, AV_PIX_FMT_BGR24); }

  cv::Mat make_gray(int w, int h) const override {
    // Planar YUV: the luma plane already is the gray picture.
    if (luma_first(static_cast<AVPixelFormat>(f_->format))) {
      const cv::Mat luma(f_->height, f_->width, CV_8UC1, f_->data[0], f_->linesize[0]);
      cv::Mat out;
      cv::resize(luma, out, cv::Size(w, h), 0, 0, cv::INTER_AREA);
      return out;
    }
    return convert(w, h, AV_PIX_FMT_GRAY8);
  }

 private:
  cv::Mat convert(int w, int h, AVPixelFormat dst) const {
    SwsContext* sws = scaler(f_, w, h, dst);
    cv::Mat out(h, w, dst == AV_PIX_FMT_BGR24 ? CV_8UC3 : CV_8UC1);
    if (!sws) {
      out.setTo(0);
      return out;
    }
    uint8_t* planes[4] = {out.data, nullptr, nullptr, nullptr};
    int strides[4] = {static_cast<int>(out.step[0]), 0, 0, 0};
    sws_scale(sws, f_->data, f_->linesize, 0, f_->height, planes, strides);
    return out;
  }

  AVFrame* f_;
};

}  // namespace

bool is_url(const std::string& url) {
  const size_t colon = url.find("://");
  if (colon == std::string::npos || colon == 0) return false;
  if (!std::isalpha(static_cast<unsigned char>(url[0]))) return false;
  return std::all_of(url.begin(), url.begin() + colon, [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
  });
}

Status check_options(const SourceOptions& o) {
  if (o.rtsp_transport != "tcp" && o.rtsp_transport != "udp") {
    return Status::error("'" + o.url + "': rtsp_transport '" + o.rtsp_transport +
                         "' is not one of tcp, udp");
  }
  if (!(o.max_fps >= 0)) {
    return Status::error("'" + o.url + "': max_fps " + std::to_string(o.max_fps) +
                         " is negative; use 0 for every frame or a rate like 5");
  }
  if (o.emulate_live && is_url(o.url)) {
    return Status::error("'" + o.url +
                         "': emulate_live plays a file as a camera; a URL already is live, "
                         "remove emulate_live");
  }
  return {};
}

Source::Source(SourceOptions options) : options_(std::move(options)) {
  options_.loop = options_.loop || options_.emulate_live;  // a camera never ends
}

Source::~Source() {
  av_frame_free(&frame_);
  av_packet_free(&pkt_);
  avcodec_free_context(&dec_);
  avformat_close_input(&fmt_);
}

void Source::arm(double seconds) {
  constexpr double kMaxSeconds = 1e6;  // keeps the nanosecond deadline far from overflow
  deadline_ns_ = steady_ns() + static_cast<int64_t>(std::min(seconds, kMaxSeconds) * 1e9);
}

int Source::interrupt_cb(void* opaque) {
  auto* self = static_cast<Source*>(opaque);
  return self->stopping() || steady_ns() > self->deadline_ns_.load() ? 1 : 0;
}

Result<std::unique_ptr<Source>> Source::open(const SourceOptions& options) {
  quiet_ffmpeg_logs();
  std::unique_ptr<Source> s(new Source(options));
  if (Status st = s->open_input(); !st) return st;
  return s;
}

Status Source::open_input() {
  const std::string& url = options_.url;
  const bool rtsp = url.rfind("rtsp://", 0) == 0;
  if (Status s = check_options(options_); !s) return s;
  fmt_ = avformat_alloc_context();
  fmt_->interrupt_callback.callback = &Source::interrupt_cb;
  fmt_->interrupt_callback.opaque = this;

  AVDictionary* opts = nullptr;
  // FFmpeg's own socket timeouts only back up the deadline, which fires first and says so.
  const std::string timeout_us = std::to_string(static_cast<int64_t>((options_.timeout + 1) * 1e6));
  if (is_url(url)) {
    av_dict_set(&opts, "rw_timeout", timeout_us.c_str(), 0);
    if (rtsp) {
      av_dict_set(&opts, "rtsp_transport", options_.rtsp_transport.c_str(), 0);
      av_dict_set(&opts, "timeout", timeout_us.c_str(), 0);
    } else if (url.rfind("http", 0) == 0) {
      av_dict_set(&opts, "timeout", timeout_us.c_str(), 0);
    }
  }
  arm(options_.timeout);
  int rc = avformat_open_input(&fmt_, url.c_str(), nullptr, &opts);
  av_dict_free(&opts);
  if (rc < 0) {
    std::string hint = is_url(url) ? "check that the camera or server is up and the URL is right"
                                   : "check the path and that it is a readable video file";
    // Past the deadline, whatever FFmpeg made of the cut-off exchange, the cause is the silence.
    const bool timed_out =
        rc == AVERROR_EXIT || rc == AVERROR(ETIMEDOUT) || steady_ns() > deadline_ns_.load();
    if (timed_out && !stopping()) {
      return Status::error("cannot open '" + url + "': no answer within " +
                           seconds_text(options_.timeout) + "; " + hint);
    }
    return Status::error("cannot open '" + url + "': " + av_error(rc) + "; " + hint);
  }
  arm(options_.timeout);
  if ((rc = avformat_find_stream_info(fmt_, nullptr)) < 0) {
    return Status::error("cannot read stream info of '" + url + "': " + av_error(rc) +
                         "; the file may be truncated or not a video");
  }
  const AVCodec* codec = nullptr;
  stream_index_ = av_find_best_stream(fmt_, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
  if (stream_index_ < 0 || !codec) {
    return Status::error("'" + url + "' has no decodable video stream (" + av_error(stream_index_) +
                         "); give a file or URL with video");
  }
  AVStream* st = fmt_->streams[stream_index_];
  dec_ = avcodec_alloc_context3(codec);
  avcodec_parameters_to_context(dec_, st->codecpar);
  dec_->thread_count = std::max(1, options_.decode_threads);
  if ((rc = avcodec_open2(dec_, codec, nullptr)) < 0) {
    return Status::error("cannot open the " + std::string(codec->name) + " decoder for '" + url +
                         "': " + av_error(rc));
  }
  pkt_ = av_packet_alloc();
  frame_ = av_frame_alloc();

  info_.width = dec_->width;
  info_.height = dec_->height;
  const AVRational r = av_guess_frame_rate(fmt_, st, nullptr);
  info_.fps = r.num > 0 && r.den > 0 ? av_q2d(r) : 0.0;
  info_.codec = codec->name;
  if (options_.recorder) options_.recorder->begin(st, info_.fps);
  const bool network_stream = rtsp || url.rfind("rtmp://", 0) == 0 || url.rfind("udp://", 0) == 0 ||
                              url.rfind("srt://", 0) == 0;
  camera_ = network_stream || (is_url(url) && fmt_->duration == AV_NOPTS_VALUE);
  info_.live = camera_ || options_.emulate_live;
  // A camera delivers at its own rate; pacing a file makes it look like one.
  paced_ = !camera_ && (options_.realtime || options_.emulate_live);
  if (info_.width <= 0 || info_.height <= 0) {
    return Status::error("'" + url +
                         "': the video stream has no frame size; the file may be corrupt");
  }
  return {};
}

Status Source::restart() {
  arm(options_.timeout);
  const int64_t start = fmt_->streams[stream_index_]->start_time;
  const int rc =
      av_seek_frame(fmt_, stream_index_, start == AV_NOPTS_VALUE ? 0 : start, AVSEEK_FLAG_BACKWARD);
  if (rc < 0) return Status::error("cannot loop '" + options_.url + "': " + av_error(rc));
  avcodec_flush_buffers(dec_);
  pts_offset_ = std::max(last_pts_, last_packet_time_) + frame_step(info_.fps);
  first_pts_ = -1;
  untimed_ = 0;
  draining_ = false;
  skipping_ = false;  // the file starts with a key frame
  return {};
}

void Source::pace(double pts) {
  if (!paced_) return;
  if (pace_start_pts_ < 0) {
    pace_start_pts_ = pts;
    pace_start_ns_ = steady_ns();
    return;
  }
  sleep_until(pace_start_ns_ + static_cast<int64_t>((pts - pace_start_pts_) * 1e9), options_.stop);
}

double Source::packet_time(const AVPacket* p) const {
  const int64_t ts = p->pts != AV_NOPTS_VALUE ? p->pts : p->dts;
  if (ts == AV_NOPTS_VALUE || first_pts_ < 0) return -1;
  return ts * av_q2d(fmt_->streams[stream_index_]->time_base) - first_pts_ + pts_offset_;
}

bool Source::skip_late(const AVPacket* p) {
  const double t = packet_time(p);
  if (t < 0 || pace_start_pts_ < 0) return false;
  last_packet_time_ = std::max(last_packet_time_, t);  // a loop starts after skipped frames too
  const bool key = p->flags & AV_PKT_FLAG_KEY;
  if (key) {
    if (last_key_ >= 0 && t > last_key_) gop_ = std::max(gop_, t - last_key_);
    last_key_ = t;
  }
  // A server buffers about a GOP for a client; behind by more, the client loses the backlog and
  // resumes at a key frame, the first point it can decode from.
  const double lag = (steady_ns() - pace_start_ns_) * 1e-9 - (t - pace_start_pts_);
  const double limit = std::max(1.0, gop_);
  if (lag > limit) skipping_ = true;
  if (skipping_ && key && lag <= limit) skipping_ = false;
  return skipping_;
}

bool Source::take(double pts) {
  if (options_.max_fps <= 0) return true;
  // A millisecond of slack: container timestamps are rounded to their time base.
  if (next_due_ >= 0 && pts < next_due_ - 1e-3) return false;
  const double interval = 1.0 / options_.max_fps;
  next_due_ = next_due_ < 0 ? pts + interval : next_due_ + interval;
  if (next_due_ <= pts) next_due_ = pts + interval;  // after a gap in the stream, start afresh
  return true;
}

// Takes one decoded frame if the decoder has one.
Source::Decoded Source::receive(std::optional<Frame>* out) {
  const int rc = avcodec_receive_frame(dec_, frame_);
  if (rc == AVERROR(EAGAIN)) return Decoded::kNeedInput;
  if (rc == AVERROR_EOF) return Decoded::kFlushed;
  if (rc < 0) {
    ++decode_errors_;
    return Decoded::kCorrupt;
  }
  const AVStream* st = fmt_->streams[stream_index_];
  const int64_t ts = frame_->best_effort_timestamp;
  const double step = frame_step(info_.fps);
  double t = ts != AV_NOPTS_VALUE ? ts * av_q2d(st->time_base) : -1;
  if (t < 0 && first_pts_ < 0 && camera_ && untimed_dropped_ < kMaxUntimedDrops) {
    // A camera's clock starts at its first timestamp: a frame before it (RTSP's first, ahead of
    // the RTP-Info sync) has no known place on it, and may be any time earlier.
    ++untimed_dropped_;
    av_frame_unref(frame_);
    return Decoded::kSkipped;
  }
  // The first timestamp of a pass maps to the pass's start, after the frames that came without
  // one.
  if (t >= 0 && first_pts_ < 0) first_pts_ = t - untimed_ * step;
  if (first_pts_ < 0) ++untimed_;
  t = t >= 0 ? t - first_pts_ + pts_offset_ : last_pts_ + step;
  // Streams with broken timestamps must still give rules a clock that never runs backwards.
  if (last_pts_ >= 0 && t <= last_pts_) t = last_pts_ + step;
  if (last_pts_ < 0 && t < 0) t = 0;
  last_pts_ = t;
  const int64_t index = index_++;
  if (last_width_ > 0 && (frame_->width != last_width_ || frame_->height != last_height_)) {
    gap_pending_ = true;
  }
  last_width_ = info_.width = frame_->width;
  last_height_ = info_.height = frame_->height;
  if (!take(t)) {
    av_frame_unref(frame_);
    return Decoded::kSkipped;
  }

  Frame f;
  f.index = index;
  f.pts = t;
  f.gap = gap_pending_;
  gap_pending_ = false;
  f.picture = std::make_shared<AvPicture>(frame_);
  av_frame_unref(frame_);
  pace(t);
  f.wall_time = wall_seconds();
  *out = std::move(f);
  return Decoded::kFrame;
}

Result<std::optional<Frame>> Source::read() {
  std::optional<Frame> out;
  for (;;) {
    if (stopping()) return std::optional<Frame>();
    const Decoded d = receive(&out);
    if (d == Decoded::kFrame) {
      consecutive_errors_ = 0;
      return out;
    }
    if (d == Decoded::kSkipped) {
      consecutive_errors_ = 0;
      continue;
    }
    if (d == Decoded::kCorrupt && ++consecutive_errors_ <= kMaxConsecutiveErrors) continue;
    if (d == Decoded::kFlushed && key_drain_) {  // ready for the next key frame
      avcodec_flush_buffers(dec_);
      key_drain_ = false;
      continue;
    }
    if (draining_) {  // the decoder gave back everything it buffered
      if (options_.loop && index_ > 0) {
        if (Status s = restart(); !s) return s;
        continue;
      }
      return std::optional<Frame>();
    }
    if (d == Decoded::kCorrupt) {
      return Status::error("'" + options_.url +
                           "': the decoder rejects the data; the stream is corrupt");
    }
    if (packet_pending_) {  // the decoder was full: give it the same packet again
      packet_pending_ = false;
      if (Status s = send_packet(); !s) return s;
      continue;
    }
    arm(options_.timeout);
    const int rc = av_read_frame(fmt_, pkt_);
    if (rc >= 0) {
      const bool key = pkt_->flags & AV_PKT_FLAG_KEY;
      const bool decode = !options_.keyframes_only || key;
      if (pkt_->stream_index != stream_index_) {
        av_packet_unref(pkt_);
        continue;
      }
      if (decode && options_.emulate_live && skip_late(pkt_)) {
        av_packet_unref(pkt_);
        ++dropped_;
        continue;
      }
      // Clips get every frame of the stream, also where only its key frames are decoded.
      if (options_.recorder) options_.recorder->push(pkt_);
      if (!decode) {
        av_packet_unref(pkt_);
        continue;
      }
      if (Status s = send_packet(); !s) return s;
      if (options_.keyframes_only) {
        // A decoder that reorders (B-frame streams) would hold each key frame back until the
        // next ones came, GOPs later; a key frame needs no other, so drain it out at once.
        avcodec_send_packet(dec_, nullptr);
        key_drain_ = true;
      }
      continue;
    }
    // The interrupt callback fired: a stop request, or the deadline (FFmpeg then also marks
    // the input as at its end, so this must be told apart before the end-of-file check).
    if (rc == AVERROR_EXIT || rc == AVERROR(ETIMEDOUT)) {
      if (stopping()) return std::optional<Frame>();
      return Status::error("'" + options_.url + "': no data within " +
                           seconds_text(options_.timeout) + "; the source stalled");
    }
    if (rc == AVERROR(EAGAIN)) {  // a live demuxer with nothing yet
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    AVIOContext* pb = fmt_->pb;
    if (pb && pb->error < 0 && rc != AVERROR_EOF) {
      return Status::error("'" + options_.url + "': reading failed: " + av_error(pb->error) +
                           "; the connection broke or the file became unreadable");
    }
    if (rc == AVERROR_EOF || (pb && avio_feof(pb))) {
      draining_ = true;
      avcodec_send_packet(dec_, nullptr);
      continue;
    }
    if (++consecutive_errors_ > kMaxConsecutiveErrors) {
      return Status::error("'" + options_.url + "': reading failed: " + av_error(rc) +
                           "; the file is damaged or the connection broke");
    }
  }
}

Status Source::send_packet() {
  const int rc = avcodec_send_packet(dec_, pkt_);
  if (rc == AVERROR(EAGAIN)) {
    packet_pending_ = true;
    return {};
  }
  av_packet_unref(pkt_);
  if (rc < 0) {
    ++decode_errors_;
    if (++consecutive_errors_ > kMaxConsecutiveErrors) {
      return Status::error("'" + options_.url + "': the decoder rejects the data (" + av_error(rc) +
                           "); the stream is corrupt");
    }
  }
  return {};
}

}  // namespace iris::video
