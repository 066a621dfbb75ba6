// COCO bbox evaluation: the 12 summary numbers of pycocotools' COCOeval (iouType 'bbox', default
// parameters), reproduced exactly, so that mAP reported by iris can be compared with published
// COCO numbers. Malformed ground truth or detections are an error naming the file and record,
// never a silently wrong number.
#pragma once

#include <array>
#include <string>

#include "core/status.h"

namespace iris::eval {

struct CocoStats {
  // AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl as fractions (0-1);
  // -1 where there was nothing to average (e.g. no large ground truth for APl).
  std::array<double, 12> stats;
  // The names above, as pycocotools' summary and expected.json spell them.
  static const std::array<const char*, 12> kNames;
};

// gt: a COCO instances JSON file (images, annotations with id, image_id, category_id,
// bbox [x, y, w, h], area, iscrowd; categories). dt: a JSON list of
// {image_id, category_id, bbox: [x, y, w, h], score}. Every detection's image_id must be a gt
// image and its category_id a gt category; a category listed in gt but without annotations is
// accepted and left out of the means, as pycocotools does. Errors name records by their 0-based
// position in their list ("dt.json: detection #12: ..."). Matches are tracked by position, so a gt
// with annotation id 0 counts like any other (pycocotools would take a match to it for no match).
Result<CocoStats> evaluate_coco(const std::string& gt_path, const std::string& dt_path);

// The same from JSON text; `gt_name` and `dt_name` name the inputs in error messages.
Result<CocoStats> evaluate_coco_json(const std::string& gt_json, const std::string& gt_name,
                                     const std::string& dt_json, const std::string& dt_name);

}  // namespace iris::eval
