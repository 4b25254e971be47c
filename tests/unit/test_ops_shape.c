/* Shape ops (ir/ops/shape.c): flatten, reshape, transpose, concat, slice, pad,
 * constant. Three kinds of checks:
 *  - result types, through `y: T = op(...)` annotations the parser verifies;
 *  - values, on `constant` inputs, against hand-computed expectations (ONNX /
 *    numpy semantics), which pins down the index arithmetic the reference
 *    kernels and the emitters would otherwise only be checked against each
 *    other on;
 *  - generated code against the reference interpreter (opcheck) on random
 *    inputs of several shapes and dtypes;
 * and diagnostics with their line:col. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/opcheck.h"

#include "frontend/frontend.h"

/* the text's only output by the interpreter must equal the values exactly;
 * then the generated code must agree */
#define EXPECT_VALUES(text, ...) EXPECT_REF_VALUES(text, -1, 0, true, __VA_ARGS__)

/* i64/i32 inputs of both signs and beyond 16 bits */
static OpcheckOpts int_opts(void) {
  return opcheck_ints(-1000000, 1000000);
}

/* u8 inputs over their whole range */
static OpcheckOpts u8_opts(void) {
  return opcheck_ints(0, 255);
}

/* ---- flatten ---- */

static void test_flatten(void **state) {
  (void)state;
  opcheck("input a: f32[2,3,4]\n"
          "input b: f32[5]\n"
          "input c: f32[1,7,1,3]\n"
          "input e: f32[]\n"
          "fa: f32[2,12] = flatten(a)\n"
          "fa0: f32[1,24] = flatten(a, axis=0)\n"
          "fa3: f32[24,1] = flatten(a, axis=3)\n"
          "fan: f32[6,4] = flatten(a, axis=-1)\n"
          "fan3: f32[1,24] = flatten(a, axis=-3)\n"
          "fb: f32[5,1] = flatten(b)\n"
          "fc: f32[7,3] = flatten(c, axis=-2)\n"
          "fe: f32[1,1] = flatten(e, axis=0)\n"
          "output fa, fa0, fa3, fan, fan3, fb, fc, fe\n");
  OpcheckOpts o = int_opts();
  opcheck_opts("input a: i64[3,1,5]\n"
               "input b: i32[2,1,3]\n"
               "fa: i64[3,5] = flatten(a, axis=2)\n"
               "fb: i32[1,6] = flatten(b, axis=0)\n"
               "output fa, fb\n",
               &o);
  OpcheckOpts ou = u8_opts();
  opcheck_opts("input u: u8[2,9]\n"
               "fu: u8[18,1] = flatten(u, axis=2)\n"
               "output fu\n",
               &ou);
}

static void test_flatten_errors(void **state) {
  (void)state;
  expect_parse_error("input x: f32[2,3]\n"
                     "y = flatten(x, axis=3)\n"
                     "output y\n",
                     "test.smelt:2:5: error: flatten: axis 3 is out of range for f32[2,3] "
                     "(expects -2..2)",
                     NULL);
  expect_parse_error("input x: f32[2,3]\n"
                     "y = flatten(x, axis=-3)\n"
                     "output y\n",
                     "test.smelt:2:5: error: flatten: axis -3 is out of range", NULL);
  /* an empty tensor may have huge dims; the other side must still fit */
  expect_parse_error("input x: f32[0,4611686018427387904,4]\n"
                     "y = flatten(x)\n"
                     "output y\n",
                     "test.smelt:1:37: error: shape has too many elements",
                     NULL);
  /* schema errors point at the attribute */
  expect_parse_error("input x: f32[2,3]\n"
                     "y = flatten(x, axis=[1])\n"
                     "output y\n",
                     "test.smelt:2:16: error: flatten: attribute 'axis' must be an integer",
                     NULL);
  expect_parse_error("input x: f32[2,3]\n"
                     "y = flatten(x, axes=1)\n"
                     "output y\n",
                     "test.smelt:2:16: error: flatten: unknown attribute 'axes' (known: axis)",
                     NULL);
}

/* ---- reshape ---- */

static void test_reshape(void **state) {
  (void)state;
  opcheck("input a: f32[2,3,4]\n"
          "input b: f32[7]\n"
          "input c: f32[1,5,1]\n"
          "input s: f32[1]\n"
          "ra: f32[4,6] = reshape(a, shape=[4,-1])\n"
          "ra0: f32[2,12] = reshape(a, shape=[0,-1])\n"
          "ra1: f32[2,3,2,2] = reshape(a, shape=[0,0,2,-1])\n"
          "ra2: f32[24] = reshape(a, shape=-1)\n"
          "rb: f32[1,7,1] = reshape(b, shape=[1,-1,1])\n"
          "rc: f32[5] = reshape(c, shape=[5])\n"
          "rc0: f32[1,5] = reshape(c, shape=[0,0])\n"
          "rs: f32[] = reshape(s, shape=[])\n"
          "output ra, ra0, ra1, ra2, rb, rc, rc0, rs\n");
  OpcheckOpts o = int_opts();
  opcheck_opts("input a: i64[3,1,5]\n"
               "input b: i32[6]\n"
               "ra: i64[5,3] = reshape(a, shape=[-1,3])\n"
               "rb: i32[2,1,3] = reshape(b, shape=[2,1,3])\n"
               "output ra, rb\n",
               &o);
  OpcheckOpts ou = u8_opts();
  opcheck_opts("input u: u8[4,3]\n"
               "ru: u8[2,3,2] = reshape(u, shape=[2,-1,2])\n"
               "output ru\n",
               &ou);
  EXPECT_VALUES("x = constant(shape=[2,3], value=[0,1,2,3,4,5])\n"
                "y: f32[3,1,2] = reshape(x, shape=[3,1,-1])\n"
                "output y\n",
                0, 1, 2, 3, 4, 5);
}

static void test_reshape_errors(void **state) {
  (void)state;
  expect_parse_error("input x: f32[2,3,4]\n"
                     "y = reshape(x, shape=[5,-1])\n"
                     "output y\n",
                     "test.smelt:2:5: error: reshape: cannot reshape f32[2,3,4] (24 elements) "
                     "to [5,-1]",
                     NULL);
  expect_parse_error("input x: f32[2,3,4]\n"
                     "# a comment line\n"
                     "  y = reshape(x, shape=[5,5])\n"
                     "output y\n",
                     "test.smelt:3:7: error: reshape: cannot reshape f32[2,3,4] (24 elements) "
                     "to [5,5]",
                     NULL);
  expect_parse_error("input x: f32[2,3,4]\n"
                     "y = reshape(x, shape=[-1,2,-1])\n"
                     "output y\n",
                     "test.smelt:2:5: error: reshape: shape [-1,2,-1] has more than one -1", NULL);
  expect_parse_error("input x: f32[6]\n"
                     "y = reshape(x, shape=[1,0,6])\n"
                     "output y\n",
                     "test.smelt:2:5: error: reshape: shape [1,0,6] copies dim 1 (0), but the "
                     "input f32[6] has rank 1",
                     NULL);
  expect_parse_error("input x: f32[6]\n"
                     "y = reshape(x, shape=[-2,-3])\n"
                     "output y\n",
                     "test.smelt:2:5: error: reshape: shape [-2,-3] has invalid dim -2", NULL);
  /* -1 next to a 0-sized dim cannot be inferred */
  expect_parse_error("input x: f32[0,3]\n"
                     "y = reshape(x, shape=[0,-1])\n"
                     "output y\n",
                     "test.smelt:2:5: error: reshape: cannot reshape f32[0,3] (0 elements) to "
                     "[0,-1]",
                     NULL);
  expect_parse_error("input x: f32[6]\n"
                     "y = reshape(x, shape=[1,1,1,1,1,1,1,1,6])\n"
                     "output y\n",
                     "test.smelt:2:5: error: reshape: shape [1,1,1,1,1,1,1,1,6] has rank 9 (at "
                     "most 8)",
                     NULL);
  expect_parse_error("input x: f32[6]\n"
                     "y = reshape(x, shape=[4611686018427387904,4611686018427387904,-1])\n"
                     "output y\n",
                     "test.smelt:2:5: error: reshape: cannot reshape f32[6] (6 elements)", NULL);
  expect_parse_error("input x: f32[6]\n"
                     "y = reshape(x)\n"
                     "output y\n",
                     "test.smelt:2:5: error: reshape: missing required attribute 'shape'", NULL);
  expect_parse_error("input x: f32[6]\n"
                     "y = reshape(x, shape=[2.5,2])\n"
                     "output y\n",
                     "test.smelt:2:16: error: reshape: attribute 'shape' must be a list of "
                     "integers",
                     NULL);
  expect_parse_error("input x: f32[6]\n"
                     "input z: f32[6]\n"
                     "y = reshape(x, z, shape=[6])\n"
                     "output y\n",
                     "test.smelt:3:5: error: reshape: expects 1 operand, got 2", NULL);
  /* every error in the file is reported, not only the first */
  expect_parse_error("input x: f32[6]\n"
                     "y = reshape(x, shape=[4])\n"
                     "z = reshape(x, shape=[7])\n"
                     "output x\n",
                     "test.smelt:2:5: error: reshape: cannot reshape f32[6] (6 elements) to [4]",
                     "test.smelt:3:5: error: reshape: cannot reshape f32[6] (6 elements) to [7]",
                     NULL);
}

/* ---- transpose ---- */

static void test_transpose(void **state) {
  (void)state;
  opcheck("input a: f32[2,3,5]\n"
          "input b: f32[4,1,3,1]\n"
          "input c: f32[7]\n"
          "input e: f32[]\n"
          "ta: f32[5,3,2] = transpose(a)\n"
          "ta1: f32[3,2,5] = transpose(a, perm=[1,0,2])\n"
          "ta2: f32[2,5,3] = transpose(a, perm=[0,2,1])\n"
          "ta3: f32[5,2,3] = transpose(a, perm=[2,0,1])\n"
          "ta4: f32[2,3,5] = transpose(a, perm=[0,1,2])\n"
          "tb: f32[1,3,1,4] = transpose(b)\n"
          "tb1: f32[4,3,1,1] = transpose(b, perm=[0,2,1,3])\n"
          "tb2: f32[1,4,1,3] = transpose(b, perm=[1,0,3,2])\n"
          "tc: f32[7] = transpose(c)\n"
          "te: f32[] = transpose(e)\n"
          "output ta, ta1, ta2, ta3, ta4, tb, tb1, tb2, tc, te\n");
  OpcheckOpts o = int_opts();
  opcheck_opts("input a: i64[3,1,5]\n"
               "input b: i64[2,3,4,5]\n"
               "input f: f64[5,2]\n"
               "ta: i64[5,1,3] = transpose(a)\n"
               "tb: i64[3,5,2,4] = transpose(b, perm=[1,3,0,2])\n"
               "tf: f64[2,5] = transpose(f)\n"
               "output ta, tb, tf\n",
               &o);
  OpcheckOpts ou = u8_opts();
  opcheck_opts("input u: u8[3,7]\n"
               "tu: u8[7,3] = transpose(u, perm=[1,0])\n"
               "output tu\n",
               &ou);
  /* big enough for an OpenMP loop */
  opcheck("input a: f32[64,33,17]\n"
          "t: f32[17,64,33] = transpose(a, perm=[2,0,1])\n"
          "t2: f32[33,64,17] = transpose(a, perm=[1,0,2])\n"
          "output t, t2\n");
  EXPECT_VALUES("x = constant(shape=[2,2,3], value=[0,1,2,3,4,5,6,7,8,9,10,11])\n"
                "y: f32[3,2,2] = transpose(x, perm=[2,0,1])\n"
                "output y\n",
                0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11);
  EXPECT_VALUES("x = constant(shape=[2,3], value=[0,1,2,3,4,5])\n"
                "y: f32[3,2] = transpose(x)\n"
                "output y\n",
                0, 3, 1, 4, 2, 5);
}

static void test_transpose_errors(void **state) {
  (void)state;
  expect_parse_error("input x: f32[2,3,4]\n"
                     "y = transpose(x, perm=[0,0,1])\n"
                     "output y\n",
                     "test.smelt:2:5: error: transpose: perm [0,0,1] is not a permutation of 0..2 "
                     "for f32[2,3,4]",
                     NULL);
  expect_parse_error("input x: f32[2,3,4]\n"
                     "y = transpose(x, perm=[1,0])\n"
                     "output y\n",
                     "test.smelt:2:5: error: transpose: perm [1,0] is not a permutation of 0..2",
                     NULL);
  expect_parse_error("input x: f32[2,3]\n"
                     "y = transpose(x, perm=[0,-1])\n"
                     "output y\n",
                     "test.smelt:2:5: error: transpose: perm [0,-1] is not a permutation", NULL);
  expect_parse_error("input x: f32[2,3]\n"
                     "y = transpose(x, perm=[1,2])\n"
                     "output y\n",
                     "test.smelt:2:5: error: transpose: perm [1,2] is not a permutation", NULL);
  expect_parse_error("input x: f32[2,3]\n"
                     "y = transpose(x, perm=\"10\")\n"
                     "output y\n",
                     "test.smelt:2:18: error: transpose: attribute 'perm' must be a list of "
                     "integers",
                     NULL);
}

/* ---- concat ---- */

static void test_concat(void **state) {
  (void)state;
  opcheck("input a: f32[2,3]\n"
          "input b: f32[4,3]\n"
          "input c: f32[1,3]\n"
          "input d: f32[2,1,5]\n"
          "input e: f32[2,4,5]\n"
          "input f: f32[3,2,1]\n"
          "input g: f32[3,2,6]\n"
          "input v: f32[1]\n"
          "input w: f32[6]\n"
          "ca: f32[7,3] = concat(a, b, c, axis=0)\n"
          "ca1: f32[2,6] = concat(a, a, axis=-1)\n"
          "cd: f32[2,5,5] = concat(d, e, axis=-2)\n"
          "cf: f32[3,2,8] = concat(f, g, f, axis=2)\n"
          "cf0: f32[6,2,1] = concat(f, f, axis=-3)\n"
          "c1: f32[2,3] = concat(a, axis=0)\n"
          "cv: f32[8] = concat(v, w, v, axis=0)\n"
          "c16: f32[16,3] = concat(c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, axis=0)\n"
          "output ca, ca1, cd, cf, cf0, c1, cv, c16\n");
  OpcheckOpts o = int_opts();
  opcheck_opts("input a: i64[3,1,5]\n"
               "input b: i64[3,2,5]\n"
               "input c: i64[3,3,1]\n"
               "input f: f64[1,2]\n"
               "ca: i64[3,3,5] = concat(a, b, axis=1)\n"
               "cc: i64[3,3,3] = concat(c, c, c, axis=-1)\n"
               "cf: f64[3,2] = concat(f, f, f, axis=0)\n"
               "output ca, cc, cf\n",
               &o);
  OpcheckOpts ou = u8_opts();
  opcheck_opts("input u: u8[2,2]\n"
               "cu: u8[2,6] = concat(u, u, u, axis=1)\n"
               "output cu\n",
               &ou);
  EXPECT_VALUES("a = constant(shape=[2,2], value=[0,1,2,3])\n"
                "b = constant(shape=[2,1], value=[10,11])\n"
                "y: f32[2,3] = concat(a, b, axis=-1)\n"
                "output y\n",
                0, 1, 10, 2, 3, 11);
  EXPECT_VALUES("a = constant(shape=[2,2], value=[0,1,2,3])\n"
                "c = constant(shape=[1,2], value=[20,21])\n"
                "y: f32[4,2] = concat(c, a, c, axis=0)\n"
                "output y\n",
                20, 21, 0, 1, 2, 3, 20, 21);
}

static void test_concat_errors(void **state) {
  (void)state;
  expect_parse_error("input a: f32[3,4,4]\n"
                     "input b: f32[2,5,4]\n"
                     "y = concat(a, b, axis=0)\n"
                     "output y\n",
                     "test.smelt:3:5: error: concat: 'b' is f32[2,5,4] but 'a' is f32[3,4,4]: all "
                     "dims except axis 0 must match",
                     NULL);
  expect_parse_error("input a: f32[3,4]\n"
                     "input b: f32[3,4,1]\n"
                     "y = concat(a, a, b, axis=-1)\n"
                     "output y\n",
                     "test.smelt:3:5: error: concat: 'b' is f32[3,4,1] but 'a' is f32[3,4]: all "
                     "dims except axis 1 must match",
                     NULL);
  expect_parse_error("input a: f32[3,4]\n"
                     "y = concat(a, a, axis=2)\n"
                     "output y\n",
                     "test.smelt:2:5: error: concat: axis 2 is out of range for f32[3,4] "
                     "(expects -2..1)",
                     NULL);
  expect_parse_error("input a: f32[3,4]\n"
                     "y = concat(a, a, axis=-3)\n"
                     "output y\n",
                     "test.smelt:2:5: error: concat: axis -3 is out of range", NULL);
  expect_parse_error("input a: f32[0,1099511627776]\n"
                     "y = concat(a, a, axis=1)\n"
                     "output y\n",
                     "test.smelt:2:5: error: concat: result has too many elements along axis 1",
                     NULL);
  expect_parse_error("input a: f32[3]\n"
                     "input b: i64[3]\n"
                     "y = concat(a, b, axis=0)\n"
                     "output y\n",
                     "test.smelt:3:5: error: concat: operand dtypes differ: 'a' is f32, 'b' is i64",
                     NULL);
  expect_parse_error("input a: f32[]\n"
                     "y = concat(a, a, axis=0)\n"
                     "output y\n",
                     "test.smelt:2:5: error: concat: cannot concatenate scalars ('a' is f32[])",
                     NULL);
  expect_parse_error("input a: f32[3]\n"
                     "y = concat(a, a)\n"
                     "output y\n",
                     "test.smelt:2:5: error: concat: missing required attribute 'axis'", NULL);
  expect_parse_error("y = concat(axis=0)\n"
                     "output y\n",
                     "test.smelt:1:5: error: concat: expects 1 to 16 operands, got 0", NULL);
}

/* ---- slice ---- */

static void test_slice(void **state) {
  (void)state;
  /* lengths worked by hand from the ONNX clamping rules */
  opcheck("input x: f32[5,7,3]\n"
          "input v: f32[10]\n"
          "input o: f32[1,4,1]\n"
          "s1: f32[3,7,3] = slice(x, starts=[1], ends=[4])\n"
          "s2: f32[5,4,3] = slice(x, starts=[6], ends=[-9223372036854775807], axes=[1], "
          "steps=[-2])\n"
          "s3: f32[3,7,3] = slice(x, starts=[-100,1], ends=[9223372036854775807,-1], "
          "axes=[-1,0])\n"
          "s4: f32[3,3,2] = slice(x, starts=[0,0,0], ends=[5,7,3], steps=[2,3,2])\n"
          "s5: f32[5,2,1] = slice(x, starts=[4,-1,2], ends=[-6,0,1], steps=[-1,-3,-5])\n"
          "s6: f32[5,1,3] = slice(x, starts=[2], ends=[3], axes=[1])\n"
          "s7: f32[5,7,2] = slice(x, starts=[1], ends=[3], axes=[2])\n"
          "s8: f32[5,7,3] = slice(x, starts=[0], ends=[100])\n"
          "v1: f32[7] = slice(v, starts=[2], ends=[9])\n"
          "v2: f32[10] = slice(v, starts=[20], ends=[-20], steps=[-1])\n"
          "v3: f32[1] = slice(v, starts=[3], ends=[10], steps=[9223372036854775807])\n"
          "v4: f32[1] = slice(v, starts=[-1], ends=[-9223372036854775808], "
          "steps=[-9223372036854775808])\n"
          "v5: f32[3] = slice(v, starts=[-3], ends=[9223372036854775807])\n"
          "o1: f32[1,2,1] = slice(o, starts=[3,0], ends=[0,1], axes=[1,2], steps=[-2,1])\n"
          "output s1, s2, s3, s4, s5, s6, s7, s8, v1, v2, v3, v4, v5, o1\n");
  OpcheckOpts o = int_opts();
  opcheck_opts("input a: i64[6,5]\n"
               "input f: f64[4,3]\n"
               "sa: i64[2,5] = slice(a, starts=[-2], ends=[-4], steps=[-1])\n"
               "sa1: i64[6,2] = slice(a, starts=[1], ends=[5], axes=[-1], steps=[2])\n"
               "sf: f64[2,3] = slice(f, starts=[1], ends=[3])\n"
               "output sa, sa1, sf\n",
               &o);
  OpcheckOpts ou = u8_opts();
  opcheck_opts("input u: u8[9]\n"
               "su: u8[3] = slice(u, starts=[8], ends=[0], steps=[-3])\n"
               "output su\n",
               &ou);
  opcheck("input a: f32[128,64,13]\n"
          "s: f32[64,62,13] = slice(a, starts=[0,1], ends=[128,-1], steps=[2,1])\n"
          "output s\n");
  /* values: rows 1,0 (reversed); columns 4 and 1 (start INT64_MAX clamps to
   * 4, step -3) */
  EXPECT_VALUES("x = constant(shape=[2,5], value=[0,1,2,3,4,5,6,7,8,9])\n"
                "y: f32[2,2] = slice(x, starts=[-1,9223372036854775807], "
                "ends=[-9223372036854775807,0], axes=[0,-1], steps=[-1,-3])\n"
                "output y\n",
                9, 6, 4, 1);
  EXPECT_VALUES("x = constant(shape=[10], value=[0,1,2,3,4,5,6,7,8,9])\n"
                "y: f32[4] = slice(x, starts=[-2], ends=[0], steps=[-2])\n"
                "output y\n",
                8, 6, 4, 2);
  EXPECT_VALUES("x = constant(shape=[10], value=[0,1,2,3,4,5,6,7,8,9])\n"
                "y: f32[3] = slice(x, starts=[-100], ends=[7], steps=[3])\n"
                "output y\n",
                0, 3, 6);
  EXPECT_VALUES("x = constant(shape=[3,4], value=[0,1,2,3,4,5,6,7,8,9,10,11])\n"
                "y: f32[2,2] = slice(x, starts=[1,3], ends=[3,-5], steps=[1,-2])\n"
                "output y\n",
                7, 5, 11, 9);
}

static void test_slice_empty(void **state) {
  (void)state;
  /* empty results are legal; a sibling output keeps the model non-trivial */
  opcheck("input x: f32[5,3]\n"
          "e1: f32[0,3] = slice(x, starts=[3], ends=[3])\n"
          "e2: f32[5,0] = slice(x, starts=[0], ends=[5], axes=[1], steps=[-1])\n"
          "e3: f32[0,3] = slice(x, starts=[9], ends=[20])\n"
          "y: f32[2,3] = slice(x, starts=[1], ends=[3])\n"
          "output e1, e2, e3, y\n");
}

static void test_slice_errors(void **state) {
  (void)state;
  expect_parse_error("input x: f32[4,5]\n"
                     "y = slice(x, starts=[0], ends=[4], steps=[0])\n"
                     "output y\n",
                     "test.smelt:2:5: error: slice: steps[0] is 0", NULL);
  expect_parse_error("input x: f32[4,5]\n"
                     "y = slice(x, starts=[0,1], ends=[4])\n"
                     "output y\n",
                     "test.smelt:2:5: error: slice: starts has 2 entries but ends has 1", NULL);
  expect_parse_error("input x: f32[4,5]\n"
                     "y = slice(x, starts=[0,1], ends=[4,4], axes=[1])\n"
                     "output y\n",
                     "test.smelt:2:5: error: slice: axes has 1 entries but starts has 2", NULL);
  expect_parse_error("input x: f32[4,5]\n"
                     "y = slice(x, starts=[0], ends=[4], steps=[1,1])\n"
                     "output y\n",
                     "test.smelt:2:5: error: slice: steps has 2 entries but starts has 1", NULL);
  expect_parse_error("input x: f32[4,5]\n"
                     "y = slice(x, starts=[0,0], ends=[4,4], axes=[1,-1])\n"
                     "output y\n",
                     "test.smelt:2:5: error: slice: axis 1 is sliced twice", NULL);
  expect_parse_error("input x: f32[4,5]\n"
                     "y = slice(x, starts=[0], ends=[4], axes=[2])\n"
                     "output y\n",
                     "test.smelt:2:5: error: slice: axis 2 is out of range for f32[4,5] "
                     "(expects -2..1)",
                     NULL);
  expect_parse_error("input x: f32[4]\n"
                     "y = slice(x, starts=[0,0], ends=[1,1])\n"
                     "output y\n",
                     "test.smelt:2:5: error: slice: 2 axes sliced but the input f32[4] has rank 1",
                     NULL);
  expect_parse_error("input x: f32[4]\n"
                     "y = slice(x, starts=[0])\n"
                     "output y\n",
                     "test.smelt:2:5: error: slice: missing required attribute 'ends'", NULL);
  /* 2^63 does not fit an integer: the list is read as floats */
  expect_parse_error("input x: f32[4]\n"
                     "y = slice(x, starts=[0], ends=[9223372036854775808])\n"
                     "output y\n",
                     "test.smelt:2:26: error: slice: attribute 'ends' must be a list of integers",
                     NULL);
}

/* ---- pad ---- */

static void test_pad(void **state) {
  (void)state;
  opcheck("input x: f32[2,3]\n"
          "input y: f32[1,4,1]\n"
          "input z: f32[5]\n"
          "input e: f32[]\n"
          "p1: f32[3,6] = pad(x, pads=[1,2,0,1])\n"
          "p2: f32[3,4,4] = pad(y, pads=[0,0,1,2,0,2], value=-1.5)\n"
          "p3: f32[5] = pad(z, pads=[0,0])\n"
          "p4: f32[8] = pad(z, pads=[3,0], value=2.5, mode=\"constant\")\n"
          "p5: f32[2,7] = pad(x, pads=[0,0,0,4], value=1e30)\n"
          "pe: f32[] = pad(e, pads=[])\n"
          "output p1, p2, p3, p4, p5, pe\n");
  OpcheckOpts o = int_opts();
  opcheck_opts("input a: i64[3,1,5]\n"
               "input f: f64[2,2]\n"
               "pa: i64[4,3,6] = pad(a, pads=[1,0,0,0,2,1], value=-7)\n"
               "pf: f64[2,3] = pad(f, pads=[0,1,0,0], value=0.1)\n"
               "output pa, pf\n",
               &o);
  OpcheckOpts ou = u8_opts();
  opcheck_opts("input u: u8[4]\n"
               "pu: u8[9] = pad(u, pads=[2,3], value=255)\n"
               "output pu\n",
               &ou);
  opcheck("input a: f32[100,30,11]\n"
          "p: f32[101,33,11] = pad(a, pads=[1,2,0,0,1,0], value=-3)\n"
          "output p\n");
  EXPECT_VALUES("x = constant(shape=[2,2], value=[1,2,3,4])\n"
                "y: f32[3,4] = pad(x, pads=[1,0,0,2], value=9)\n"
                "output y\n",
                9, 9, 9, 9, 1, 2, 9, 9, 3, 4, 9, 9);
}

static void test_pad_errors(void **state) {
  (void)state;
  expect_parse_error("input x: f32[2,3]\n"
                     "y = pad(x, pads=[1,-1,0,0])\n"
                     "output y\n",
                     "test.smelt:2:5: error: pad: negative pads are not supported yet (pads "
                     "[1,-1,0,0])",
                     NULL);
  expect_parse_error("input x: f32[2,3,4]\n"
                     "y = pad(x, pads=[1,1,1,1])\n"
                     "output y\n",
                     "test.smelt:2:5: error: pad: pads needs 2*rank = 6 entries for f32[2,3,4], "
                     "got 4",
                     NULL);
  expect_parse_error("input x: f32[2,3]\n"
                     "y = pad(x, pads=[1,1,1,1], mode=\"reflect\")\n"
                     "output y\n",
                     "test.smelt:2:5: error: pad: mode \"reflect\" is not supported (only "
                     "\"constant\")",
                     NULL);
  expect_parse_error("input x: i64[2,3]\n"
                     "y = pad(x, pads=[1,1,1,1], value=0.5)\n"
                     "output y\n",
                     "test.smelt:2:5: error: pad: value 0.5 is not representable in i64", NULL);
  expect_parse_error("input x: u8[2]\n"
                     "y = pad(x, pads=[1,1], value=-1)\n"
                     "output y\n",
                     "test.smelt:2:5: error: pad: value -1 is not representable in u8", NULL);
  expect_parse_error("input x: f32[2]\n"
                     "y = pad(x, pads=[1,1], value=1e39)\n"
                     "output y\n",
                     "test.smelt:2:5: error: pad: value 1e+39 is not representable in f32", NULL);
  expect_parse_error("input x: f32[0,1099511627776]\n"
                     "y = pad(x, pads=[0,0,2,0])\n"
                     "output y\n",
                     "test.smelt:2:5: error: pad: ",
                     NULL);
  expect_parse_error("input x: f32[2]\n"
                     "y = pad(x, pads=[1,1], mode=1)\n"
                     "output y\n",
                     "test.smelt:2:24: error: pad: attribute 'mode' must be a string", NULL);
  expect_parse_error("input x: f32[2]\n"
                     "y = pad(x, pads=[1,1], constant_value=1)\n"
                     "output y\n",
                     "test.smelt:2:24: error: pad: unknown attribute 'constant_value' (known: "
                     "pads, value, mode)",
                     NULL);
}

/* ---- constant ---- */

static void test_constant(void **state) {
  (void)state;
  opcheck("c1: f32[2,3] = constant(shape=[2,3], value=[1,2,3,4.5,-5,6])\n"
          "c2: f32[] = constant(value=3.25)\n"
          "c3: i64[4] = constant(shape=[4], value=-7, dtype=\"i64\")\n"
          "c4: u8[2,2] = constant(shape=[2,2], value=[0,255,7,1], dtype=\"u8\")\n"
          "c5: f64[3] = constant(shape=[3], value=[0.1,1e-300,-2], dtype=\"f64\")\n"
          "c6: i32[1,1,3] = constant(shape=[1,1,3], value=[-2147483648,0,2147483647], "
          "dtype=\"i32\")\n"
          "c7: f32[1] = constant(shape=1, value=-inf)\n"
          "c8: f32[40000] = constant(shape=[40000], value=0.1)\n"
          "output c1, c2, c3, c4, c5, c6, c7, c8\n");
  /* constants feeding other ops next to real inputs */
  opcheck("input x: f32[2,3]\n"
          "k = constant(shape=[1,3], value=[1,2,3])\n"
          "y: f32[3,3] = concat(x, k, axis=0)\n"
          "output y\n");
  EXPECT_VALUES("c: i64[2,2] = constant(shape=[2,2], value=[9007199254740992,-3,0,5], "
                "dtype=\"i64\")\n"
                "output c\n",
                9007199254740992.0, -3, 0, 5);
  EXPECT_VALUES("c: f32[3] = constant(shape=[3], value=0.1)\n"
                "output c\n",
                (float)0.1, (float)0.1, (float)0.1);
  EXPECT_VALUES("c: f64[2] = constant(shape=[2], value=[0.1,-1e300], dtype=\"f64\")\n"
                "output c\n",
                0.1, -1e300);
}

static void test_constant_errors(void **state) {
  (void)state;
  expect_parse_error("c = constant(shape=[2,3], value=[1,2,3,4,5])\n"
                     "output c\n",
                     "test.smelt:1:5: error: constant: value has 5 elements but shape [2,3] needs "
                     "1 or 6",
                     NULL);
  expect_parse_error("c = constant(value=1, dtype=\"f16\")\n"
                     "output c\n",
                     "test.smelt:1:5: error: constant: unknown dtype \"f16\" (f32, f64, i64, i32, "
                     "u8, bool)",
                     NULL);
  expect_parse_error("c = constant(shape=[2,-1], value=1)\n"
                     "output c\n",
                     "test.smelt:1:5: error: constant: shape [2,-1] has a negative dim", NULL);
  expect_parse_error("c = constant(shape=[2], value=[1,256], dtype=\"u8\")\n"
                     "output c\n",
                     "test.smelt:1:5: error: constant: value 256 is not representable in u8",
                     NULL);
  expect_parse_error("c = constant(shape=[2], value=[1,2.5], dtype=\"i32\")\n"
                     "output c\n",
                     "test.smelt:1:5: error: constant: value 2.5 is not representable in i32",
                     NULL);
  expect_parse_error("c = constant(shape=[2], value=[1,2147483648], dtype=\"i32\")\n"
                     "output c\n",
                     "test.smelt:1:5: error: constant: value 2.14748e+09 is not representable in "
                     "i32",
                     NULL);
  expect_parse_error("c = constant(shape=[1048576,1048576,2], value=0)\n"
                     "output c\n",
                     "test.smelt:1:5: error: constant: shape [1048576,1048576,2] has too many "
                     "elements",
                     NULL);
  expect_parse_error("c = constant(shape=[2])\n"
                     "output c\n",
                     "test.smelt:1:5: error: constant: missing required attribute 'value'", NULL);
  expect_parse_error("c = constant(value=\"one\")\n"
                     "output c\n",
                     "test.smelt:1:14: error: constant: attribute 'value' must be a list of "
                     "numbers",
                     NULL);
  expect_parse_error("input x: f32[2]\n"
                     "c = constant(x, value=1)\n"
                     "output c\n",
                     "test.smelt:2:5: error: constant: expects 0 operands, got 1", NULL);
  /* declared result types are checked against the shape rule */
  expect_parse_error("c: f32[3] = constant(shape=[2], value=1)\n"
                     "output c\n",
                     "test.smelt:1:1: error: 'c' is declared f32[3] but constant produces f32[2]",
                     NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_flatten),         cmocka_unit_test(test_flatten_errors),
      cmocka_unit_test(test_reshape),         cmocka_unit_test(test_reshape_errors),
      cmocka_unit_test(test_transpose),       cmocka_unit_test(test_transpose_errors),
      cmocka_unit_test(test_concat),          cmocka_unit_test(test_concat_errors),
      cmocka_unit_test(test_slice),           cmocka_unit_test(test_slice_empty),
      cmocka_unit_test(test_slice_errors),    cmocka_unit_test(test_pad),
      cmocka_unit_test(test_pad_errors),      cmocka_unit_test(test_constant),
      cmocka_unit_test(test_constant_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
