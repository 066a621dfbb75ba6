// iris_rtsp_server: a real RTSP server for tests, built on GStreamer's gst-rtsp-server. It serves
// H.264 clips (mp4, mkv or ts) as cameras do: looped for ever, at real time, over TCP and UDP,
// without re-encoding (the clip's access units are sent as they are).
//
//   iris_rtsp_server --port P --mount /cam=clip.mp4 [--mount /cam2=other.mp4 ...]
//
// Prints "ready" on stdout once it listens on 127.0.0.1:P. Each client gets a stream of its own
// that starts at the clip's first (key) frame, as a camera starts a session at a key frame.
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>
#include <sys/prctl.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

// One access unit of the clip (byte-stream H.264 with SPS and PPS before every key frame) and
// how long its presentation follows its decoding (B-frames).
struct Unit {
  GstBuffer* data;
  GstClockTime pts_delay;
};

struct Clip {
  std::string path;
  std::vector<Unit> units;
  GstClockTime step = 0;  // one frame
};

// Reads the whole clip through demuxer and parser into memory. Errors are printed; false then.
bool load(Clip* clip) {
  GError* err = nullptr;
  GstElement* pipeline = gst_parse_launch(
      "filesrc name=file ! parsebin ! h264parse config-interval=-1 ! "
      "video/x-h264,stream-format=byte-stream,alignment=au ! appsink name=sink sync=false",
      &err);
  if (!pipeline) {
    std::fprintf(stderr, "iris_rtsp_server: %s (install gstreamer1.0-plugins-base/good/bad)\n",
                 err ? err->message : "cannot build the reader");
    return false;
  }
  GstElement* file = gst_bin_get_by_name(GST_BIN(pipeline), "file");
  g_object_set(file, "location", clip->path.c_str(), nullptr);
  gst_object_unref(file);
  GstElement* sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstClockTime last_dts = GST_CLOCK_TIME_NONE;
  std::vector<GstClockTime> steps;
  while (GstSample* sample = gst_app_sink_pull_sample(GST_APP_SINK(sink))) {
    GstBuffer* b = gst_sample_get_buffer(sample);
    const GstClockTime pts = GST_BUFFER_PTS(b), dts = GST_BUFFER_DTS(b);
    Unit u{gst_buffer_ref(b), 0};
    if (GST_CLOCK_TIME_IS_VALID(pts) && GST_CLOCK_TIME_IS_VALID(dts) && pts > dts) {
      u.pts_delay = pts - dts;
    }
    if (GST_CLOCK_TIME_IS_VALID(dts) && GST_CLOCK_TIME_IS_VALID(last_dts) && dts > last_dts) {
      steps.push_back(dts - last_dts);
    }
    if (GST_CLOCK_TIME_IS_VALID(dts)) last_dts = dts;
    clip->units.push_back(u);
    gst_sample_unref(sample);
  }
  GstBus* bus = gst_element_get_bus(pipeline);
  GstMessage* msg = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
  if (msg) {
    GError* e = nullptr;
    gst_message_parse_error(msg, &e, nullptr);
    std::fprintf(stderr, "iris_rtsp_server: cannot read '%s' as H.264: %s\n", clip->path.c_str(),
                 e->message);
    g_error_free(e);
    gst_message_unref(msg);
  }
  gst_object_unref(bus);
  gst_object_unref(sink);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
  // The typical interval between frames: a segment boundary (timestamps starting over) does not
  // move the median, and the stream's own rate field cannot be trusted (encoders write 500 fps
  // for a 1 ms time base).
  std::sort(steps.begin(), steps.end());
  clip->step = steps.empty() ? GST_SECOND / 25 : steps[steps.size() / 2];
  if (clip->units.empty()) {
    if (!msg) std::fprintf(stderr, "iris_rtsp_server: '%s' has no frames\n", clip->path.c_str());
    return false;
  }
  return true;
}

// One client's stream: feeds the clip's units to the media's appsrc at real time.
struct Feeder {
  const Clip* clip;
  GstRTSPMedia* media;  // not owned: the feeder lives as long as the media's appsrc
  uint64_t next = 0;    // units pushed
  GstClockTime origin = GST_CLOCK_TIME_NONE;  // running time of unit 0
  bool playing = false;
};

bool client_playing(GstRTSPMedia* media) {
  GstRTSPStream* stream = gst_rtsp_media_get_stream(media, 0);
  if (!stream) return false;
  GList* transports = gst_rtsp_stream_transport_filter(stream, nullptr, nullptr);
  const bool playing = transports != nullptr;
  g_list_free_full(transports, g_object_unref);
  return playing;
}

// Called by appsrc's streaming thread whenever it wants data: waits until the next unit is due
// (running time on the pipeline's clock) and pushes it.
void need_data(GstElement* appsrc, guint, gpointer user) {
  auto* f = static_cast<Feeder*>(user);
  const auto running = [appsrc]() -> GstClockTime {
    GstClock* clock = gst_element_get_clock(appsrc);
    if (!clock) return GST_CLOCK_TIME_NONE;
    const GstClockTime now = gst_clock_get_time(clock);
    gst_object_unref(clock);
    return now - gst_element_get_base_time(appsrc);
  };
  const auto going_down = [appsrc] { return GST_STATE_TARGET(appsrc) != GST_STATE_PLAYING; };
  const Clip& clip = *f->clip;
  if (f->next == 0) {
    // The first unit goes out at once: the payloader needs its SPS for the SDP that DESCRIBE
    // answers. The server holds it back until the client's PLAY.
    const GstClockTime now = running();
    f->origin = GST_CLOCK_TIME_IS_VALID(now) ? now : 0;
  } else if (!f->playing) {  // the rest flows from PLAY on
    for (;;) {
      if (going_down()) return;
      const GstClockTime now = running();
      if (GST_CLOCK_TIME_IS_VALID(now) && client_playing(f->media)) {
        if (now > f->origin + clip.step) f->origin = now - clip.step;
        f->playing = true;
        break;
      }
      g_usleep(5000);
    }
  }
  const Unit& u = clip.units[f->next % clip.units.size()];
  const GstClockTime dts = f->origin + f->next * clip.step;
  for (GstClockTime now = running(); GST_CLOCK_TIME_IS_VALID(now) && now < dts; now = running()) {
    if (going_down()) return;
    g_usleep(std::min<gulong>((dts - now) / 1000, 20000));
  }
  GstBuffer* b = gst_buffer_copy(u.data);
  GST_BUFFER_DTS(b) = dts;
  GST_BUFFER_PTS(b) = dts + u.pts_delay;
  GST_BUFFER_DURATION(b) = clip.step;
  ++f->next;
  gst_app_src_push_buffer(GST_APP_SRC(appsrc), b);
}

void media_configure(GstRTSPMediaFactory*, GstRTSPMedia* media, gpointer user) {
  GstElement* bin = gst_rtsp_media_get_element(media);
  GstElement* appsrc = gst_bin_get_by_name_recurse_up(GST_BIN(bin), "src");
  GstCaps* caps = gst_caps_from_string("video/x-h264,stream-format=byte-stream,alignment=au");
  g_object_set(appsrc, "caps", caps, "format", GST_FORMAT_TIME, "is-live", TRUE, nullptr);
  gst_caps_unref(caps);
  auto* feeder = new Feeder{static_cast<const Clip*>(user), media};
  g_signal_connect_data(
      appsrc, "need-data", G_CALLBACK(need_data), feeder,
      [](gpointer data, GClosure*) { delete static_cast<Feeder*>(data); }, GConnectFlags(0));
  gst_object_unref(appsrc);
  gst_object_unref(bin);
}

int usage(const char* why) {
  std::fprintf(stderr,
               "iris_rtsp_server: %s\nusage: iris_rtsp_server --port P --mount /path=clip.mp4 "
               "[--mount /path2=clip2.mp4 ...]\n",
               why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  // Dies with the test that started it: a crashed test leaves no server holding its port.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  gst_init(&argc, &argv);
  std::string port;
  std::vector<std::pair<std::string, std::unique_ptr<Clip>>> mounts;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) return usage(("missing the value of " + arg).c_str());
    const std::string value = argv[++i];
    if (arg == "--port") {
      port = value;
    } else if (arg == "--mount") {
      const size_t eq = value.find('=');
      if (eq == std::string::npos || value[0] != '/') {
        return usage(("bad mount '" + value + "'; write /path=clip.mp4").c_str());
      }
      auto clip = std::make_unique<Clip>();
      clip->path = value.substr(eq + 1);
      mounts.emplace_back(value.substr(0, eq), std::move(clip));
    } else {
      return usage(("unknown argument " + arg).c_str());
    }
  }
  if (port.empty() || mounts.empty()) return usage("--port and at least one --mount are needed");
  for (auto& [path, clip] : mounts) {
    if (!load(clip.get())) return 1;
  }

  GstRTSPServer* server = gst_rtsp_server_new();
  gst_rtsp_server_set_address(server, "127.0.0.1");
  gst_rtsp_server_set_service(server, port.c_str());
  GstRTSPMountPoints* points = gst_rtsp_server_get_mount_points(server);
  for (auto& [path, clip] : mounts) {
    GstRTSPMediaFactory* factory = gst_rtsp_media_factory_new();
    gst_rtsp_media_factory_set_launch(
        factory, "( appsrc name=src ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=-1 )");
    gst_rtsp_media_factory_set_shared(factory, FALSE);  // every client starts at a key frame
    gst_rtsp_media_factory_set_protocols(
        factory, GstRTSPLowerTrans(GST_RTSP_LOWER_TRANS_UDP | GST_RTSP_LOWER_TRANS_TCP));
    g_signal_connect(factory, "media-configure", G_CALLBACK(media_configure), clip.get());
    gst_rtsp_mount_points_add_factory(points, path.c_str(), factory);
  }
  g_object_unref(points);
  if (gst_rtsp_server_attach(server, nullptr) == 0) {
    std::fprintf(stderr, "iris_rtsp_server: cannot listen on 127.0.0.1:%s\n", port.c_str());
    return 1;
  }
  std::printf("ready\n");
  std::fflush(stdout);
  GMainLoop* loop = g_main_loop_new(nullptr, FALSE);
  g_main_loop_run(loop);
  return 0;
}
