// What the subcommands share: reading their options and writing their reports.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "apps/iris/commands.h"
#include "core/text.h"
#include "runtime/model.h"
#include "video/source.h"

namespace iris::app {

std::optional<int> int_in_range(std::string_view text, int lo, int hi) {
  int64_t v = 0;
  if (!parse_int(text, &v) || v < lo || v > hi) return std::nullopt;
  return static_cast<int>(v);
}

bool parse_input_size(std::string_view text, int* width, int* height) {
  const auto side = [](int v) { return v >= 1 && v <= 16384; };
  return parse_size(text, width, height) && side(*width) && side(*height);
}

std::optional<std::vector<std::string>> parse_precisions(std::string_view text) {
  std::vector<std::string> out;
  for (std::string_view field : split_fields(text)) {
    if (!runtime::parse_precision(field)) return std::nullopt;
    if (std::find(out.begin(), out.end(), field) == out.end()) out.emplace_back(field);
  }
  return out;
}

bool read_options(const char* command, const char* usage, const Args& args, std::string* model,
                  bool* json, const OptionReader& option) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& flag = args[i];
    if (flag == "--json") {
      *json = true;
      continue;
    }
    if (model && flag.rfind("--", 0) != 0) {
      if (!model->empty()) {
        std::fprintf(stderr, "%s: unexpected argument '%s' (one MODEL only)\n\n%s", command,
                     flag.c_str(), usage);
        return false;
      }
      *model = flag;
      continue;
    }
    const bool has_value = i + 1 < args.size();
    const std::string value = has_value ? args[i + 1] : "";
    const std::optional<std::string> want = option(flag, value);
    if (!want) {
      std::fprintf(stderr, "%s: unknown option '%s'\n\n%s", command, flag.c_str(), usage);
      return false;
    }
    if (!want->empty()) {
      std::fprintf(stderr, "%s: %s needs a %s; got %s\n", command, flag.c_str(), want->c_str(),
                   has_value ? ("'" + value + "'").c_str() : "nothing");
      return false;
    }
    ++i;
  }
  return true;
}

ImageAxes image_axes(const std::vector<int64_t>& shape) {
  const bool nhwc = shape.size() == 4 && shape[3] == 3 && shape[1] != 3;
  return nhwc ? ImageAxes{.c = 3, .h = 1, .w = 2} : ImageAxes{.c = 1, .h = 2, .w = 3};
}

std::vector<int64_t> image_shape(std::vector<int64_t> shape, int64_t batch, int width, int height) {
  if (shape.empty()) return shape;
  shape[0] = batch;
  if (shape.size() == 4) {
    const ImageAxes axes = image_axes(shape);
    if (shape[axes.c] < 0) shape[axes.c] = 3;
    if (width > 0) {
      shape[axes.h] = height;
      shape[axes.w] = width;
    }
  }
  return shape;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    const size_t colon = line.find(':');
    if (colon != std::string::npos && colon + 2 <= line.size()) return line.substr(colon + 2);
  }
  return "unknown";
}

double rounded(double v, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(v * scale) / scale;
}

std::string fixed(double v, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

double percentile(const std::vector<double>& sorted, double p) {
  const size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * sorted.size()));
  return sorted[std::max<size_t>(rank, 1) - 1];
}

void print_markdown_table(const std::vector<std::string>& head,
                          const std::vector<std::vector<std::string>>& rows, size_t text_columns) {
  std::vector<size_t> width(head.size());
  for (size_t i = 0; i < head.size(); ++i) {
    width[i] = head[i].size();
    for (const auto& row : rows) width[i] = std::max(width[i], row[i].size());
  }
  const auto line = [&](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size(); ++i) {
      const int w = static_cast<int>(width[i]);
      std::printf("| %*s ", i < text_columns ? -w : w, cells[i].c_str());
    }
    std::printf("|\n");
  };
  line(head);
  for (size_t i = 0; i < head.size(); ++i) {
    const bool text = i < text_columns;
    std::printf("| %s%s ", std::string(width[i] - (text ? 0 : 1), '-').c_str(), text ? "" : ":");
  }
  std::printf("|\n");
  for (const auto& row : rows) line(row);
}

namespace {

// `n` of `count` positions spread evenly (the first included); all of them when n is 0 or more
// than `count`.
std::vector<int64_t> spread(int64_t count, int64_t n) {
  if (n <= 0 || n > count) n = count;
  std::vector<int64_t> out;
  for (int64_t i = 0; i < n; ++i) out.push_back(i * count / n);
  return out;
}

}  // namespace

Result<PictureSet> choose_pictures(const std::string& dir, const std::string& video,
                                   int64_t count) {
  namespace fs = std::filesystem;
  PictureSet set{.dir = dir, .video = video};
  if (!dir.empty()) {
    std::vector<std::string> files;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      const std::string ext = lower(entry.path().extension().string());
      if (entry.is_regular_file() &&
          (ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp")) {
        files.push_back(entry.path().filename().string());
      }
    }
    if (ec) return Status::error("'" + dir + "': " + ec.message());
    if (files.empty()) {
      return Status::error("'" + dir +
                           "' holds no .jpg, .jpeg, .png or .bmp file; fix: name a directory of "
                           "pictures, or a video");
    }
    std::sort(files.begin(), files.end());
    for (int64_t i : spread(files.size(), count)) set.files.push_back(files[i]);
    return set;
  }
  auto source = video::Source::open({.url = video});
  if (!source.ok()) return source.status();
  for (;;) {
    auto frame = (*source)->read();
    if (!frame.ok()) return frame.status();
    if (!frame->has_value()) break;
    ++set.clip_frames;
  }
  if (set.clip_frames == 0) {
    return Status::error("video '" + video + "' has no frames; fix: name a clip with video");
  }
  set.frames = spread(set.clip_frames, count);
  return set;
}

Status for_each_picture(
    const PictureSet& set,
    const std::function<Status(const std::string& name, int64_t index, const cv::Mat& bgr)>& use) {
  namespace fs = std::filesystem;
  for (size_t i = 0; i < set.files.size(); ++i) {
    const std::string path = (fs::path(set.dir) / set.files[i]).string();
    const cv::Mat bgr = cv::imread(path, cv::IMREAD_COLOR);
    if (bgr.empty()) {
      return Status::error("image '" + path +
                           "' cannot be read as a picture; fix: remove it from the directory or "
                           "convert it to JPEG or PNG");
    }
    if (Status s = use(set.files[i], static_cast<int64_t>(i), bgr); !s.ok()) return s;
  }
  if (set.frames.empty()) return {};
  auto source = video::Source::open({.url = set.video});
  if (!source.ok()) return source.status();
  const std::string clip = fs::path(set.video).filename().string();
  auto wanted = set.frames.begin();
  while (wanted != set.frames.end()) {
    auto frame = (*source)->read();
    if (!frame.ok()) return frame.status();
    if (!frame->has_value()) {
      return Status::error("video '" + set.video + "' ended at frame " + std::to_string(*wanted) +
                           " of the " + std::to_string(set.clip_frames) + " counted before");
    }
    if ((*frame)->index != *wanted) continue;
    ++wanted;
    if (Status s =
            use(clip + "#" + std::to_string((*frame)->index), (*frame)->index, (*frame)->bgr());
        !s.ok()) {
      return s;
    }
  }
  return {};
}

}  // namespace iris::app
