// The decoders a ModelSpec can name. Adding one: its file in this folder, and its line here.
#include <map>
#include <ranges>

#include "core/text.h"
#include "infer/decoder.h"

namespace iris::infer {

using DecoderFactory = std::unique_ptr<Decoder> (*)(const DecoderParams&);

std::unique_ptr<Decoder> make_yolov5_decoder(const DecoderParams&);
std::unique_ptr<Decoder> make_yolov8_decoder(const DecoderParams&);
std::unique_ptr<Decoder> make_yolox_decoder(const DecoderParams&);
std::unique_ptr<Decoder> make_ssd_decoder(const DecoderParams&);
std::unique_ptr<Decoder> make_blazeface_decoder(const DecoderParams&);
std::unique_ptr<Decoder> make_end2end_decoder(const DecoderParams&);
std::unique_ptr<Decoder> make_classifier_decoder(const DecoderParams&);
std::unique_ptr<Decoder> make_embedding_decoder(const DecoderParams&);

namespace {

const std::map<std::string, DecoderFactory>& registry() {
  static const std::map<std::string, DecoderFactory> kDecoders = {
      {"yolov5", make_yolov5_decoder},         {"yolov8", make_yolov8_decoder},
      {"yolox", make_yolox_decoder},           {"ssd", make_ssd_decoder},
      {"blazeface", make_blazeface_decoder},   {"end2end", make_end2end_decoder},
      {"classifier", make_classifier_decoder}, {"embedding", make_embedding_decoder},
  };
  return kDecoders;
}

}  // namespace

Result<std::unique_ptr<Decoder>> make_decoder(const std::string& name,
                                              const DecoderParams& params) {
  const auto it = registry().find(name);
  if (it != registry().end()) return it->second(params);
  return Status::error("unknown decoder '" + name +
                       "'; fix: use one of: " + join(std::views::keys(registry())));
}

}  // namespace iris::infer
