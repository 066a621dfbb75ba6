// KServe v2 inference request and response bodies (the Triton HTTP protocol): JSON tensors, flat
// or nested, and the binary tensor data extension (a JSON header of Inference-Header-Content-Length
// bytes, then the raw tensors in order). iris models compute in FP32; an input may also be sent
// as FP16, UINT8, INT8, UINT16, INT16, INT32 or INT64 when every value is exactly an FP32 (an
// image as UINT8 bytes), and is converted. Pure functions: no HTTP, no models.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "infer/tensor.h"

namespace iris::server {

struct InferInput {
  std::string name;
  std::string datatype;  // as sent
  infer::Tensor tensor;  // the values as FP32, shape as sent
};

struct InferOutputRequest {
  std::string name;
  std::optional<bool> binary;  // parameters.binary_data, when given
};

struct InferRequest {
  std::string id;  // echoed in the response; may be empty
  std::vector<InferInput> inputs;
  std::vector<InferOutputRequest> outputs;  // empty: every output
  bool binary_outputs = false;              // parameters.binary_data_output
};

// `header_length`: the Inference-Header-Content-Length header, when the request has one; the
// body is then a JSON header of that many bytes followed by the binary tensors. Errors say what
// is malformed, where, and what is expected (the caller answers 400).
Result<InferRequest> parse_infer_request(std::string_view body,
                                         std::optional<uint64_t> header_length);

struct EncodedResponse {
  std::string body;
  std::optional<uint64_t> header_length;  // set when some output is binary
};

// `outputs` in the order to answer; each is sent as binary when `binary` says so (per output,
// else the request's default).
struct OutputToSend {
  const infer::Tensor* tensor = nullptr;
  bool binary = false;
};
EncodedResponse encode_infer_response(std::string_view model, std::string_view id,
                                      const std::vector<OutputToSend>& outputs);

}  // namespace iris::server
