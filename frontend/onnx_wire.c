/* ONNX files are checked on the wire before protobuf-c decodes them:
 * nesting, repeated singular fields and the decoded size, in one linear,
 * non-recursive pass (frontend/onnx.c and onnx_export.c call it first). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "frontend/frontend.h"
#include "onnx.pb-c.h"

/* ---- the wire format, checked before protobuf-c decodes it ----
 * protobuf-c's unpacker recurses once per nested message (subgraphs of
 * If/Loop attributes, sequence/map types nest without end: a small file
 * overflows the stack), merges each repeat of a singular message field into
 * a copy of the ones before (quadratic), and allocates a whole struct for a
 * two-byte empty message. One linear pass over the bytes, its stack of
 * open messages bounded, checks all three first. It follows only the
 * message fields protobuf-c itself would decode (its descriptors say which);
 * unknown fields are skipped, as protobuf-c stores them without looking. */
#define ONNX_MAX_GRAPH_DEPTH 64 /* subgraphs within subgraphs */
#define ONNX_MAX_MSG_DEPTH 256  /* messages within messages, of any kind */
/* what protobuf-c may allocate for a file of len bytes */
#define ONNX_MAX_DECODE(len) ((uint64_t)(len) * 32 + ((uint64_t)64 << 20))

#define CORRUPT "not a valid ONNX model: the protobuf is truncated or corrupt: "

typedef struct WireMsg {
  const ProtobufCMessageDescriptor *desc;
  size_t end;    /* offset just past the message */
  uint64_t seen; /* singular message fields met so far, by field index */
} WireMsg;

static bool wire_varint(const uint8_t *p, size_t end, size_t *pos, uint64_t *v) {
  *v = 0;
  for (int shift = 0; shift < 70 && *pos < end; shift += 7) {
    uint8_t b = p[(*pos)++];
    if (shift < 64) *v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

/* Bytes a repeated field's element takes in protobuf-c's arrays. */
static size_t wire_elem_size(ProtobufCType t) {
  switch (t) {
  case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
  case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE:
    return 8;
  case PROTOBUF_C_TYPE_STRING: case PROTOBUF_C_TYPE_MESSAGE: return sizeof(void *);
  case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
  case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
  default: return 4;
  }
}

static bool wire_varint_type(ProtobufCType t) {
  switch (t) {
  case PROTOBUF_C_TYPE_SFIXED32: case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_FLOAT:
  case PROTOBUF_C_TYPE_SFIXED64: case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE:
    return false;
  default: return true;
  }
}

static bool wire_fail(SmDiag *d, const char *path, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool wire_fail(SmDiag *d, const char *path, size_t at, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  sm_error(d, (SmLoc){path, 0, 0}, "%s (at byte %zu)", msg, at);
  return false;
}

/* Whether protobuf-c may decode buf as a ModelProto: nesting within the
 * limits, no singular message field twice in one message, and no more
 * memory than ONNX_MAX_DECODE. Otherwise one error at path. */
bool fe_onnx_wire_check(const char *path, const void *buf, size_t len, SmDiag *d) {
  const uint8_t *p = buf;
  WireMsg st[ONNX_MAX_MSG_DEPTH + 1];
  int top = 0, graphs = 0;
  st[0] = (WireMsg){&onnx__model_proto__descriptor, len, 0};
  uint64_t mem = onnx__model_proto__descriptor.sizeof_message, limit = ONNX_MAX_DECODE(len);
  size_t pos = 0;
  for (;;) {
    for (; top > 0 && pos == st[top].end; top--)
      graphs -= st[top].desc == &onnx__graph_proto__descriptor;
    if (pos == st[top].end) break;
    const ProtobufCMessageDescriptor *desc = st[top].desc;
    size_t at = pos, end = st[top].end;
    uint64_t tag, n = 0;
    if (!wire_varint(p, end, &pos, &tag) || tag >> 3 == 0 || tag >> 3 > UINT32_MAX)
      return wire_fail(d, path, at, CORRUPT "bad field tag in %s", desc->name);
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field(desc, (unsigned)(tag >> 3));
    switch (tag & 7) {
    case 0:
      if (!wire_varint(p, end, &pos, &n))
        return wire_fail(d, path, at, CORRUPT "truncated varint in %s", desc->name);
      n = 8;
      break;
    case 1: case 5: {
      size_t w = (tag & 7) == 1 ? 8 : 4;
      if (end - pos < w) return wire_fail(d, path, at, CORRUPT "truncated field in %s", desc->name);
      pos += w;
      n = w;
      break;
    }
    case 2:
      if (!wire_varint(p, end, &pos, &n) || n > end - pos)
        return wire_fail(d, path, at, CORRUPT "a field of %s runs past its end", desc->name);
      break;
    default:
      return wire_fail(d, path, at, CORRUPT "unsupported wire type %d in %s", (int)(tag & 7),
                       desc->name);
    }
    /* what protobuf-c will allocate for this field */
    if (!f) {
      mem += sizeof(ProtobufCMessageUnknownField) + ((tag & 7) == 2 ? n : 8);
    } else if ((tag & 7) != 2) {
      if (f->label == PROTOBUF_C_LABEL_REPEATED) mem += wire_elem_size(f->type);
    } else if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_BYTES) {
      mem += n + 1 + (f->label == PROTOBUF_C_LABEL_REPEATED ? wire_elem_size(f->type) : 0);
    } else if (f->type != PROTOBUF_C_TYPE_MESSAGE) { /* packed repeated */
      uint64_t cnt = n;
      if (wire_varint_type(f->type)) {
        cnt = 0;
        for (size_t i = 0; i < n; i++) cnt += !(p[pos + i] & 0x80);
      }
      mem += cnt * wire_elem_size(f->type);
    }
    bool open = f && f->type == PROTOBUF_C_TYPE_MESSAGE && (tag & 7) == 2;
    const ProtobufCMessageDescriptor *sub = open ? f->descriptor : NULL;
    if (open)
      mem += sub->sizeof_message + (f->label == PROTOBUF_C_LABEL_REPEATED ? sizeof(void *) : 0);
    if (mem > limit)
      return wire_fail(d, path, at, "the protobuf would decode to over %llu MiB, far more than "
                       "its %zu bytes", (unsigned long long)(limit >> 20), len);
    if (!open) {
      if ((tag & 7) == 2) pos += n;
      continue;
    }
    /* a nested message: open it */
    size_t idx = (size_t)(f - desc->fields);
    bool single = f->label != PROTOBUF_C_LABEL_REPEATED && !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF);
    if (single && idx < 64) {
      if (st[top].seen >> idx & 1)
        return wire_fail(d, path, at, "not a valid ONNX model: field %s of %s appears twice",
                         f->name, desc->name);
      st[top].seen |= (uint64_t)1 << idx;
    }
    if (top == ONNX_MAX_MSG_DEPTH)
      return wire_fail(d, path, at, "the model nests messages more than %d deep",
                       ONNX_MAX_MSG_DEPTH);
    if (sub == &onnx__graph_proto__descriptor && ++graphs > ONNX_MAX_GRAPH_DEPTH)
      return wire_fail(d, path, at, "the model nests graphs more than %d deep (subgraphs of "
                       "If, Loop, Scan, ...)", ONNX_MAX_GRAPH_DEPTH);
    st[++top] = (WireMsg){sub, pos + n, 0};
  }
  return true;
}
