/* Compiler driver: plan, emit, check with libclang, then build with $CC into
 * an executable, a shared object, or a static library. Everything is built
 * in a private temporary directory; results are moved into place atomically
 * so a failure never leaves a half-written file. */
#include <ctype.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codegen.h"
#include "ir/escape.h"

const char *cg_rt_include(void) {
  const char *e = getenv("SMELT_RT_INCLUDE");
  return e && *e ? e : SMELT_RT_INCLUDE;
}

const char *cg_rt_lib(void) {
  const char *e = getenv("SMELT_RT_LIB");
  return e && *e ? e : SMELT_RT_LIB;
}

/* Split a flag string on blanks into argv (pointers into a heap copy). */
static int split_words(char *s, const char **argv, int max) {
  int n = 0;
  for (char *tok = strtok(s, " \t"); tok && n < max; tok = strtok(NULL, " \t"))
    argv[n++] = tok;
  return n;
}

/* Runs argv; on failure reports the command and its stderr. */
static SmStatus run(const char *const *argv, const char *tmpdir, SmDiag *d) {
  char log[4096];
  snprintf(log, sizeof log, "%s/cmd.log", tmpdir);
  pid_t pid = fork();
  if (pid < 0) {
    sm_error(d, (SmLoc){0}, "cannot fork: %s", strerror(errno));
    return SM_ERR_IO;
  }
  if (pid == 0) {
    FILE *f = freopen(log, "w", stderr);
    if (!f) _exit(127);
    if (!freopen(log, "a", stdout)) _exit(127);
    execvp(argv[0], (char *const *)argv);
    fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) break;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return SM_OK;
  SmBuf cmd = {0};
  for (int i = 0; argv[i]; i++) sm_buf_printf(&cmd, "%s%s", i ? " " : "", argv[i]);
  char *out = NULL;
  SmDiag quiet;
  sm_diag_init(&quiet);
  if (sm_read_file(log, &out, NULL, &quiet) != SM_OK) out = NULL;
  sm_diag_free(&quiet);
  sm_error(d, (SmLoc){0}, "command failed: %s\n%s", sm_buf_str(&cmd), out ? out : "");
  free(out);
  sm_buf_free(&cmd);
  return SM_ERR_IO;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void rm_tree(const char *dir) {
  if (getenv("SMELT_KEEP_TMP")) {
    fprintf(stderr, "smelt: kept build directory %s\n", dir);
    return;
  }
  nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static SmStatus write_text(const char *path, const char *text, SmDiag *d) {
  return sm_write_file_atomic(path, text, strlen(text), d);
}

/* Copy a built file into place atomically, keeping it executable. */
static SmStatus install(const char *from, const char *to, bool exec, SmDiag *d) {
  char *data = NULL;
  size_t len;
  SmStatus st = sm_read_file(from, &data, &len, d);
  if (st) return st;
  st = sm_write_file_atomic(to, data, len, d);
  free(data);
  if (st == SM_OK && chmod(to, exec ? 0755 : 0644) != 0) {
    sm_error(d, (SmLoc){to, 0, 0}, "cannot chmod: %s", strerror(errno));
    st = SM_ERR_IO;
  }
  return st;
}

/* [A-Za-z_][A-Za-z0-9_]*: a function name (infer, eval, a training step)
 * goes into the program's identifiers after its model-name prefix */
static bool plain_ident(const char *s) {
  if (!*s || (!isalpha((unsigned char)*s) && *s != '_')) return false;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && *s != '_') return false;
  return true;
}

static const char *base_name(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

SmStatus cg_compile(IrGraph *g, CgEmitKind kind, const char *out,
                    const CgOptions *o, SmDiag *d) {
  CgProgram p = cg_program_single(g);
  return cg_compile_program(&p, kind, out, o, d);
}

SmStatus cg_compile_program(const CgProgram *prog, CgEmitKind kind,
                            const char *out, const CgOptions *o, SmDiag *d) {
  const IrGraph *g = prog->funcs[0];
  /* the model name prefixes every C identifier of the program and names
   * its files; the frontends make it safe, this keeps graphs built by
   * other means honest too */
  const char *why = sm_c_name_problem(prog->name);
  if (why || strcmp(prog->name, g->name) != 0) {
    sm_error(d, (SmLoc){0}, "model name '%s' cannot name a C API: %s", prog->name,
             why ? why : "the program and its first function disagree");
    return SM_ERR_INVALID;
  }
  for (int f = 0; f < prog->nfuncs; f++)
    if (!plain_ident(prog->fnames[f])) {
      sm_error(d, (SmLoc){0}, "function name '%s' is not a plain C identifier", prog->fnames[f]);
      return SM_ERR_INVALID;
    }
  SmBuf c = {0}, h = {0};
  cg_emit(prog, o, &c, &h);

  char tmpdir[] = "/tmp/smelt-XXXXXX";
  if (!mkdtemp(tmpdir)) {
    sm_error(d, (SmLoc){0}, "cannot create a temporary directory: %s", strerror(errno));
    sm_buf_free(&c);
    sm_buf_free(&h);
    return SM_ERR_IO;
  }
  char cpath[4200], hpath[4200], bin[4200];
  snprintf(cpath, sizeof cpath, "%s/%s.c", tmpdir, g->name);
  snprintf(hpath, sizeof hpath, "%s/%s.h", tmpdir, g->name);
  SmStatus st = write_text(cpath, sm_buf_str(&c), d);
  if (!st) st = write_text(hpath, sm_buf_str(&h), d);
  if (!st && o->check) st = cg_check(prog, cpath, sm_buf_str(&c), d);

  const char *cc_env = o->cc ? o->cc : getenv("CC");
  char *cc = sm_xstrdup(cc_env && *cc_env ? cc_env : "cc");
  char *opt = sm_xstrdup(o->opt ? o->opt : "-O3 -march=native");
  char inc1[4200], inc2[4200];
  snprintf(inc1, sizeof inc1, "-I%s", cg_rt_include());
  snprintf(inc2, sizeof inc2, "-I%s", tmpdir);
  const char *argv[64];
  int n = split_words(cc, argv, 8);
  n += split_words(opt, argv + n, 16);
  /* -std=c11 alone disables FMA contraction in GCC */
  const char *common[] = {"-std=c11", "-ffp-contract=fast", "-fopenmp", inc1, inc2};
  for (int i = 0; i < SM_COUNT(common); i++) argv[n++] = common[i];

  if (!st && kind == CG_C) {
    char oc[4200], oh[4200];
    snprintf(oc, sizeof oc, "%s.c", out);
    snprintf(oh, sizeof oh, "%s.h", out);
    if (strcmp(base_name(out), g->name) != 0) {
      sm_error(d, (SmLoc){0}, "--emit c: output name '%s' must end in the model name '%s' (the .c includes \"%s.h\")",
               out, g->name, g->name);
      st = SM_ERR_INVALID;
    }
    if (!st) st = install(hpath, oh, false, d);
    if (!st) st = install(cpath, oc, false, d);
  } else if (!st && (kind == CG_EXE || kind == CG_SHARED)) {
    snprintf(bin, sizeof bin, "%s/out.bin", tmpdir);
    if (kind == CG_EXE) argv[n++] = "-DSMELT_MAIN";
    else {
      argv[n++] = "-shared";
      argv[n++] = "-fPIC";
    }
    argv[n++] = cpath;
    argv[n++] = "-o";
    argv[n++] = bin;
    argv[n++] = cg_rt_lib();
    argv[n++] = "-lcjson";
    argv[n++] = "-lz";
    argv[n++] = "-lm";
    argv[n] = NULL;
    st = run(argv, tmpdir, d);
    if (!st) st = install(bin, out, true, d);
  } else if (!st && kind == CG_LIB) {
    /* libNAME.a holds the model object and the runtime objects, so a
     * program links it with -lcjson -lz -lm -fopenmp only */
    char obj[4200], lib[4200], rtdir[4200], dst[4200];
    snprintf(obj, sizeof obj, "%s/%s.o", tmpdir, g->name);
    snprintf(lib, sizeof lib, "%s/lib%s.a", tmpdir, g->name);
    snprintf(rtdir, sizeof rtdir, "%s/rt", tmpdir);
    argv[n++] = "-fPIC";
    argv[n++] = "-c";
    argv[n++] = cpath;
    argv[n++] = "-o";
    argv[n++] = obj;
    argv[n] = NULL;
    st = run(argv, tmpdir, d);
    if (!st && mkdir(rtdir, 0700) != 0) {
      sm_error(d, (SmLoc){rtdir, 0, 0}, "cannot create: %s", strerror(errno));
      st = SM_ERR_IO;
    }
    char rtlib_abs[4200];
    if (!st) {
      if (!realpath(cg_rt_lib(), rtlib_abs)) {
        sm_error(d, (SmLoc){cg_rt_lib(), 0, 0}, "runtime library not found: %s", strerror(errno));
        st = SM_ERR_IO;
      }
    }
    if (!st) {
      /* ar x extracts into the current directory: run it via sh in rtdir */
      char script[20000];
      snprintf(script, sizeof script, "cd '%s' && ar x '%s' && ar rcs '%s' '%s' *.o", rtdir,
               rtlib_abs, lib, obj);
      const char *sh[] = {"sh", "-c", script, NULL};
      st = run(sh, tmpdir, d);
    }
    const char *dir_end = strrchr(out, '/');
    if (dir_end)
      snprintf(dst, sizeof dst, "%.*s/lib%s.a", (int)(dir_end - out), out, base_name(out));
    else
      snprintf(dst, sizeof dst, "lib%s.a", out);
    char oc[4200], oh[4200];
    snprintf(oc, sizeof oc, "%s.c", out);
    snprintf(oh, sizeof oh, "%s.h", out);
    if (!st && strcmp(base_name(out), g->name) != 0) {
      sm_error(d, (SmLoc){0}, "--emit lib: output name '%s' must end in the model name '%s'",
               out, g->name);
      st = SM_ERR_INVALID;
    }
    if (!st) st = install(hpath, oh, false, d);
    if (!st) st = install(cpath, oc, false, d);
    if (!st) st = install(lib, dst, false, d);
  }
  free(cc);
  free(opt);
  rm_tree(tmpdir);
  sm_buf_free(&c);
  sm_buf_free(&h);
  return st;
}
