// MPEG-TS as a receiver sees it, for the fault campaign: where the video starts and whether every
// resumption after a gap starts at a keyframe. Only what JSMpeg depends on is checked: a picture
// is a keyframe when its PES carries a sequence header and an I picture (the player drops
// everything before a sequence header), and a gap is a break in the video PID's continuity
// counter (whole chunks dropped by a slow subscriber's queue, or a new connection).
'use strict';
const fs = require('fs');

const PICTURE_TYPES = ['?', 'I', 'P', 'B', 'D', '?', '?', '?'];

// One video PES payload: its picture type and whether it holds a sequence header.
function picture(payload) {
  let seq = false, type = null;
  for (let i = 0; i + 5 < payload.length; i++) {
    if (payload[i] !== 0 || payload[i + 1] !== 0 || payload[i + 2] !== 1) continue;
    if (payload[i + 3] === 0xb3) seq = true;
    else if (payload[i + 3] === 0x00 && type === null) {
      type = PICTURE_TYPES[(payload[i + 5] >> 3) & 7];
      break;
    }
  }
  return { key: seq && type === 'I', type: type || '?' };
}

// Returns { packets, garbage, pictures, keys, first: 'I'|'P'|...|null, firstKey, gaps, badResumes,
// midFrameResumes }. badResumes: gaps after which the next picture was not a keyframe;
// midFrameResumes: gaps that resumed inside a PES (a frame cut in the middle).
function analyze(buf) {
  const r = { packets: 0, garbage: 0, pictures: 0, keys: 0, first: null, firstKey: false, gaps: 0, badResumes: 0,
    midFrameResumes: 0 };
  let vpid = -1, cc = -1, pes = null, afterGap = false;
  const finish = () => {
    if (!pes) return;
    const p = picture(Buffer.concat(pes.parts));
    r.pictures++;
    r.keys += p.key;
    if (r.first === null) {
      r.first = p.type;
      r.firstKey = p.key;
    }
    if (pes.afterGap && !p.key) r.badResumes++;
    pes = null;
  };
  for (let o = 0; o + 188 <= buf.length; o += 188) {
    if (buf[o] !== 0x47) {
      r.garbage++;
      continue;
    }
    r.packets++;
    const pid = ((buf[o + 1] & 0x1f) << 8) | buf[o + 2], pusi = (buf[o + 1] & 0x40) !== 0;
    const afc = (buf[o + 3] >> 4) & 3, c = buf[o + 3] & 15;
    if (!(afc & 1)) continue; // no payload
    const start = afc === 3 ? o + 5 + buf[o + 4] : o + 4;
    if (start >= o + 188) continue;
    const payload = buf.subarray(start, o + 188);
    if (vpid < 0) {
      if (!pusi || payload.length < 4 || payload[0] || payload[1] || payload[2] !== 1 || payload[3] !== 0xe0) continue;
      vpid = pid;
    }
    if (pid !== vpid) continue;
    if (cc >= 0 && c !== ((cc + 1) & 15)) {
      r.gaps++;
      afterGap = true;
      if (!pusi) r.midFrameResumes++;
      pes = null; // a picture cut by the gap is not a picture
    }
    cc = c;
    if (pusi) {
      finish();
      if (payload.length < 9) continue;
      pes = { parts: [payload.subarray(9 + payload[8])], afterGap };
      afterGap = false;
    } else if (pes) {
      pes.parts.push(payload);
    }
  }
  finish();
  return r;
}

function analyzeFile(path) {
  return analyze(fs.readFileSync(path));
}

module.exports = { analyze, analyzeFile };
