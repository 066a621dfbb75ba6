// MOT tracking metrics: HOTA, CLEAR (MOTA, MOTP, IDSW, Frag, MT/PT/ML) and Identity (IDF1),
// reproducing TrackEval's MotChallenge2DBox results with DO_PREPROC=False, so that tracking
// quality reported by iris can be compared with published MOTChallenge numbers. Malformed input
// is an error naming the file and line, never a silently wrong number.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace iris::eval {

// Fractions are 0-1. The HOTA family is the mean over TrackEval's 19 localisation thresholds
// alpha = 0.05, 0.10, ..., 0.95; CLEAR and Identity match at IoU >= 0.5.
struct MotMetrics {
  double hota = 0, deta = 0, assa = 0, detre = 0, detpr = 0, assre = 0, asspr = 0, loca = 0;
  double mota = 0, motp = 0, idf1 = 0, idp = 0, idr = 0;
  int64_t idsw = 0, frag = 0, mt = 0, pt = 0, ml = 0, clr_tp = 0, clr_fn = 0, clr_fp = 0;
};

// gt: MOTChallenge gt.txt, 9 fields a line: frame,id,x,y,w,h,conf,class,visibility. Rows whose
// conf truncates to 0 are dropped (TrackEval's "zero marked"); class and visibility are ignored.
// tracker: 10 fields a line: frame,id,x,y,w,h,conf,x,y,z; only frame, id and box are used.
// Frames are integers >= 1, ids integers >= 0 and unique within a frame, w and h >= 0.
// Blank lines are skipped. Boxes are [x, y, x+w, y+h] and similarity is their plain IoU.
Result<MotMetrics> evaluate_mot(const std::string& gt_path, const std::string& tracker_path);

struct MotField {
  std::string name;  // TrackEval's
  double value;
  bool count;  // a whole number (IDSW ... CLR_FP), printed as one
};

// The metrics in the order of the reference vectors' expected.json: "HOTA", "DetA", ..., "LocA",
// "MOTA", ..., "IDR", then the counts "IDSW", ..., "CLR_FP".
std::vector<MotField> to_fields(const MotMetrics& m);

}  // namespace iris::eval
