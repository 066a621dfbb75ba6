// LiveView: the annotated MJPEG streams (GET /api/streams/{name}/live.mjpg). One thread serves
// every viewer: at most `fps` times a second it takes each watched stream's latest annotated frame,
// encodes it once as JPEG, and hands it to each viewer that is ready for a part. A slow viewer is
// ready less often and gets fewer frames; nothing queues up for it. When a stream has no new frame
// for a while (paused, ended) its last picture is sent again, which keeps proxies from timing out
// and finds viewers that left.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "core/status.h"
#include "pipeline/frame_tap.h"
#include "server/http.h"

namespace iris::server {

class LiveView {
 public:
  // `exists` says whether a stream is still there; its viewers' responses end when it is not.
  LiveView(std::function<bool(const std::string&)> exists, int fps, size_t max_viewers);
  ~LiveView();  // ends every viewer's response
  LiveView(const LiveView&) = delete;
  LiveView& operator=(const LiveView&) = delete;

  // A viewer of `stream`, whose frames `tap` holds. Fails when max_viewers watch already.
  Result<std::shared_ptr<PartSource>> open(const std::string& stream,
                                           std::shared_ptr<pipeline::FrameTap> tap);
  static constexpr const char* kContentType = "multipart/x-mixed-replace; boundary=irisframe";

 private:
  struct Hub;
  class Viewer;
  void run();

  std::shared_ptr<Hub> hub_;  // shared with the viewers, which may outlive this object
  std::thread thread_;
};

}  // namespace iris::server
