// KServe v2 request and response bodies without HTTP: JSON tensors flat and nested, the binary
// tensor extension in every datatype iris converts, and the errors of malformed requests.
#include "server/kserve_codec.h"

#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "support/support.h"

namespace iris::server {
namespace {

using nlohmann::json;
using testing::contains;

std::string one_input(const std::string& datatype, const json& shape, const json& data) {
  return json{
      {"inputs", {{{"name", "x"}, {"shape", shape}, {"datatype", datatype}, {"data", data}}}}}
      .dump();
}

// A request whose one input "x" comes as binary data.
std::string binary_request(const std::string& datatype, const json& shape, const std::string& raw,
                           size_t* header_length) {
  const std::string head = json{{"inputs",
                                 {{{"name", "x"},
                                   {"shape", shape},
                                   {"datatype", datatype},
                                   {"parameters", {{"binary_data_size", raw.size()}}}}}}}
                               .dump();
  *header_length = head.size();
  return head + raw;
}

template <typename T>
std::string raw_bytes(std::initializer_list<T> values) {
  std::string out(values.size() * sizeof(T), '\0');
  std::memcpy(out.data(), std::data(values), out.size());
  return out;
}

TEST(KserveCodec, FlatAndNestedDataAreTheSameTensor) {
  auto flat = parse_infer_request(one_input("FP32", {2, 3}, {1, 2, 3, 4, 5, 6.5}), std::nullopt);
  auto nested =
      parse_infer_request(one_input("FP32", {2, 3}, {{1, 2, 3}, {4, 5, 6.5}}), std::nullopt);
  ASSERT_TRUE(flat.ok()) << flat.status().message();
  ASSERT_TRUE(nested.ok()) << nested.status().message();
  const infer::Tensor& t = flat->inputs[0].tensor;
  EXPECT_EQ(t.name, "x");
  EXPECT_EQ(t.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(t.data, (std::vector<float>{1, 2, 3, 4, 5, 6.5}));
  EXPECT_EQ(nested->inputs[0].tensor.data, t.data);
  EXPECT_EQ(flat->inputs[0].datatype, "FP32");
}

TEST(KserveCodec, IntegerDatatypesBecomeExactFloats) {
  auto r = parse_infer_request(one_input("UINT8", {3}, {0, 128, 255}), std::nullopt);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->inputs[0].tensor.data, (std::vector<float>{0, 128, 255}));
  r = parse_infer_request(one_input("INT64", {2}, {-16777216, 16777216}), std::nullopt);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->inputs[0].tensor.data, (std::vector<float>{-16777216.0f, 16777216.0f}));
}

TEST(KserveCodec, BinaryDataInEveryAcceptedDatatype) {
  struct Case {
    std::string datatype;
    std::string raw;
    std::vector<float> expected;
  };
  const std::vector<Case> cases = {
      {"FP32", raw_bytes<float>({1.5f, -2.25f}), {1.5f, -2.25f}},
      // 1.0, -2.0, the smallest subnormal, infinity
      {"FP16",
       raw_bytes<uint16_t>({0x3c00, 0xc000, 0x0001, 0x7c00}),
       {1.0f, -2.0f, 5.9604645e-8f, std::numeric_limits<float>::infinity()}},
      {"UINT8", raw_bytes<uint8_t>({0, 7, 255}), {0, 7, 255}},
      {"INT8", raw_bytes<int8_t>({-128, 127}), {-128, 127}},
      {"UINT16", raw_bytes<uint16_t>({65535}), {65535}},
      {"INT16", raw_bytes<int16_t>({-32768}), {-32768}},
      {"INT32", raw_bytes<int32_t>({-5, 16777216}), {-5, 16777216}},
      {"INT64", raw_bytes<int64_t>({-16777216, 3}), {-16777216, 3}},
  };
  for (const Case& c : cases) {
    size_t header = 0;
    const std::string body =
        binary_request(c.datatype, {static_cast<int64_t>(c.expected.size())}, c.raw, &header);
    auto r = parse_infer_request(body, header);
    ASSERT_TRUE(r.ok()) << c.datatype << ": " << r.status().message();
    EXPECT_EQ(r->inputs[0].tensor.data, c.expected) << c.datatype;
  }
}

TEST(KserveCodec, OutputsAskedForAsBinaryOrJson) {
  const std::string body =
      json{{"id", "r1"},
           {"inputs", json::parse(one_input("FP32", {1}, {1}))["inputs"]},
           {"outputs", {{{"name", "a"}, {"parameters", {{"binary_data", true}}}}, {{"name", "b"}}}},
           {"parameters", {{"binary_data_output", false}}}}
          .dump();
  auto r = parse_infer_request(body, std::nullopt);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->id, "r1");
  ASSERT_EQ(r->outputs.size(), 2u);
  EXPECT_EQ(r->outputs[0].name, "a");
  EXPECT_EQ(r->outputs[0].binary, true);
  EXPECT_FALSE(r->outputs[1].binary.has_value());
  EXPECT_FALSE(r->binary_outputs);
}

TEST(KserveCodec, MalformedRequestsSayWhatIsWrong) {
  const auto error = [](const std::string& body, std::optional<uint64_t> header = std::nullopt) {
    auto r = parse_infer_request(body, header);
    return r.ok() ? std::string("accepted") : r.status().message();
  };
  EXPECT_TRUE(contains(error("{\"inputs\": ["), "not valid JSON"));
  EXPECT_TRUE(contains(error("[1, 2]"), "must be an object"));
  EXPECT_TRUE(contains(error("{}"), "needs \"inputs\""));
  EXPECT_TRUE(contains(error(one_input("FP32", {2, 2}, {1, 2, 3})), "data has 3 values"));
  EXPECT_TRUE(contains(error(one_input("FP32", {2, 2}, {1, 2, 3, 4, 5})), "more values"));
  EXPECT_TRUE(contains(error(one_input("FP32", {2}, {1, "2"})), "is not a number"));
  EXPECT_TRUE(contains(error(one_input("FP32", {2}, {1, nullptr})), "is not a number"));
  EXPECT_TRUE(contains(error(one_input("INT32", {1}, {1.5})), "is not an integer"));
  EXPECT_TRUE(contains(error(one_input("UINT8", {1}, {300})), "out of the range of UINT8"));
  EXPECT_TRUE(contains(error(one_input("INT64", {1}, {16777217})), "not exactly an FP32"));
  EXPECT_TRUE(contains(error(one_input("BYTES", {1}, {"a"})), "datatype BYTES cannot feed"));
  EXPECT_TRUE(contains(error(one_input("FLOAT", {1}, {1})), "unknown datatype 'FLOAT'"));
  EXPECT_TRUE(contains(error(one_input("FP32", {-1}, {1})), "whole numbers >= 0"));
  EXPECT_TRUE(contains(error(one_input("FP32", {1000000, 1000000, 1000000}, {1})),
                       "more values than the request carries"));
  EXPECT_TRUE(contains(error(one_input("FP32", {1}, {{{1}}})), "nested deeper"));

  size_t header = 0;
  std::string body = binary_request("FP32", {2}, raw_bytes<float>({1, 2}), &header);
  EXPECT_TRUE(contains(error(body, body.size() + 1), "the body has only"));
  EXPECT_TRUE(contains(error(body + "xx", header), "2 bytes of binary data that no input"));
  EXPECT_TRUE(contains(error(body.substr(0, body.size() - 1), header), "binary data ends"));
  body = binary_request("FP32", {3}, raw_bytes<float>({1, 2}), &header);
  EXPECT_TRUE(contains(error(body, header), "binary_data_size is 8 bytes"));
  body = binary_request("INT32", {1}, raw_bytes<int32_t>({1 << 25}), &header);
  EXPECT_TRUE(contains(error(body, header), "not exactly an FP32"));
}

TEST(KserveCodec, ResponsesInJsonAndBinary) {
  infer::Tensor a{"a", {1, 3}, {0.1f, -2.0f, std::nanf("")}};
  infer::Tensor b{"b", {1, 2}, {1.0f, 2.5f}};
  EncodedResponse json_only = encode_infer_response("m", "id7", {{&a, false}});
  EXPECT_FALSE(json_only.header_length.has_value());
  const json parsed = json::parse(json_only.body);
  EXPECT_EQ(parsed["model_name"], "m");
  EXPECT_EQ(parsed["id"], "id7");
  EXPECT_EQ(parsed["outputs"][0]["shape"], json({1, 3}));
  EXPECT_EQ(parsed["outputs"][0]["datatype"], "FP32");
  EXPECT_TRUE(contains(json_only.body, "[0.1,-2,null]"));  // shortest text, JSON's null for NaN

  EncodedResponse mixed = encode_infer_response("m", "", {{&a, false}, {&b, true}});
  ASSERT_TRUE(mixed.header_length.has_value());
  const json head = json::parse(mixed.body.substr(0, *mixed.header_length));
  EXPECT_FALSE(head.contains("id"));
  EXPECT_EQ(head["outputs"][1]["parameters"]["binary_data_size"], 8);
  EXPECT_FALSE(head["outputs"][1].contains("data"));
  ASSERT_EQ(mixed.body.size(), *mixed.header_length + 8);
  float values[2];
  std::memcpy(values, mixed.body.data() + *mixed.header_length, 8);
  EXPECT_EQ(values[0], 1.0f);
  EXPECT_EQ(values[1], 2.5f);
}

}  // namespace
}  // namespace iris::server
