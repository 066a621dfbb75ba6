#include "video/video_writer.h"

#include <cmath>
#include <filesystem>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

#include "video/av_error.h"

namespace iris::video {

namespace {
constexpr AVRational kTimeBase{1, 1000};  // milliseconds: keeps variable frame timing exact
}

Result<std::unique_ptr<VideoWriter>> VideoWriter::open(const std::string& path,
                                                       const WriterOptions& opt) {
  quiet_ffmpeg_logs();
  std::unique_ptr<VideoWriter> w(new VideoWriter());
  w->path_ = path;
  if (opt.width <= 0 || opt.height <= 0) {
    return Status::error("cannot write '" + path + "': frame size " + std::to_string(opt.width) +
                         "x" + std::to_string(opt.height) + " is invalid");
  }
  const auto parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);

  int rc = avformat_alloc_output_context2(&w->fmt_, nullptr, nullptr, path.c_str());
  if (rc < 0 || !w->fmt_) {
    return Status::error("cannot create '" + path + "': " + av_error(rc) +
                         "; use a file name ending in .mp4, .mkv or .ts");
  }
  const AVCodec* codec = avcodec_find_encoder_by_name("libx264");
  if (!codec) codec = avcodec_find_encoder(AV_CODEC_ID_H264);
  if (!codec) {
    return Status::error(
        "no H.264 encoder in this FFmpeg build; install Debian's libavcodec59 "
        "(built with libx264)");
  }
  AVStream* st = avformat_new_stream(w->fmt_, nullptr);
  w->enc_ = avcodec_alloc_context3(codec);
  AVCodecContext* c = w->enc_;
  // H.264 with 4:2:0 chroma needs even dimensions.
  c->width = opt.width & ~1;
  c->height = opt.height & ~1;
  c->pix_fmt = AV_PIX_FMT_YUV420P;
  c->time_base = kTimeBase;
  const double fps = opt.fps > 0 ? opt.fps : 25;
  c->framerate = av_d2q(fps, 100000);
  c->gop_size = std::max(1, static_cast<int>(std::lround(fps * 2)));
  c->thread_count = std::max(1, opt.threads);
  if (w->fmt_->oformat->flags & AVFMT_GLOBALHEADER) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  AVDictionary* copts = nullptr;
  if (std::string(codec->name) == "libx264") {
    av_dict_set(&copts, "preset", opt.preset.c_str(), 0);
    av_dict_set(&copts, "crf", std::to_string(opt.crf).c_str(), 0);
  }
  rc = avcodec_open2(c, codec, &copts);
  av_dict_free(&copts);
  if (rc < 0) return Status::error("cannot open the H.264 encoder: " + av_error(rc));
  avcodec_parameters_from_context(st->codecpar, c);
  st->time_base = kTimeBase;
  st->avg_frame_rate = c->framerate;

  if ((rc = avio_open(&w->fmt_->pb, path.c_str(), AVIO_FLAG_WRITE)) < 0) {
    return Status::error("cannot open '" + path + "' for writing: " + av_error(rc) +
                         "; choose a writable path");
  }
  if ((rc = avformat_write_header(w->fmt_, nullptr)) < 0) {
    return Status::error("cannot write the header of '" + path + "': " + av_error(rc));
  }
  w->open_ = true;
  w->yuv_ = av_frame_alloc();
  w->yuv_->format = c->pix_fmt;
  w->yuv_->width = c->width;
  w->yuv_->height = c->height;
  av_frame_get_buffer(w->yuv_, 0);
  w->pkt_ = av_packet_alloc();
  return w;
}

VideoWriter::~VideoWriter() {
  (void)close();
  sws_freeContext(sws_);
  av_frame_free(&yuv_);
  av_packet_free(&pkt_);
  avcodec_free_context(&enc_);
  if (fmt_) {
    if (fmt_->pb) avio_closep(&fmt_->pb);
    avformat_free_context(fmt_);
  }
}

Status VideoWriter::encode(AVFrame* frame) {
  int rc = avcodec_send_frame(enc_, frame);
  if (rc < 0) return Status::error("encoding '" + path_ + "': " + av_error(rc));
  for (;;) {
    rc = avcodec_receive_packet(enc_, pkt_);
    if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return {};
    if (rc < 0) return Status::error("encoding '" + path_ + "': " + av_error(rc));
    av_packet_rescale_ts(pkt_, enc_->time_base, fmt_->streams[0]->time_base);
    pkt_->stream_index = 0;
    rc = av_interleaved_write_frame(fmt_, pkt_);
    if (rc < 0) return Status::error("writing '" + path_ + "': " + av_error(rc));
  }
}

Status VideoWriter::write(const cv::Mat& bgr, double pts) {
  if (!open_) return Status::error("'" + path_ + "' is closed");
  if (bgr.empty() || bgr.type() != CV_8UC3) {
    return Status::error("writing '" + path_ + "': expected an 8-bit BGR image");
  }
  // Reused while the frame size stays the same; a new size gets a new scaler.
  sws_ = sws_getCachedContext(sws_, bgr.cols, bgr.rows, AV_PIX_FMT_BGR24, enc_->width, enc_->height,
                              AV_PIX_FMT_YUV420P, SWS_BILINEAR, nullptr, nullptr, nullptr);
  if (!sws_) return Status::error("encoding '" + path_ + "': no memory");
  if (av_frame_make_writable(yuv_) < 0) return Status::error("encoding '" + path_ + "': no memory");
  const uint8_t* src[4] = {bgr.data, nullptr, nullptr, nullptr};
  const int stride[4] = {static_cast<int>(bgr.step[0]), 0, 0, 0};
  sws_scale(sws_, src, stride, 0, bgr.rows, yuv_->data, yuv_->linesize);
  int64_t ts = std::llround(pts * 1000.0);
  if (ts <= last_pts_) ts = last_pts_ + 1;  // the muxer needs strictly increasing timestamps
  last_pts_ = ts;
  yuv_->pts = ts;
  if (Status s = encode(yuv_); !s) return s;
  ++frames_;
  return {};
}

Status VideoWriter::close() {
  if (!open_) return {};
  open_ = false;
  Status s = encode(nullptr);
  const int rc = av_write_trailer(fmt_);
  avio_closep(&fmt_->pb);
  if (!s) return s;
  if (rc < 0) return Status::error("finishing '" + path_ + "': " + av_error(rc));
  return {};
}

}  // namespace iris::video
