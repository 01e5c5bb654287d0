/* test_hcl: the HCL/JSON parser against its header contract. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coffer/hcl.h"

static const char  cf_test_policy[] =
    "# comment\n"
    "path \"secret/data/*\" {\n"
    "  capabilities = [\"create\", \"read\", \"update\"]\n"
    "  allowed_parameters = {\n"
    "    \"foo\" = []\n"
    "    \"bar\" = [\"baz\", \"qux\"]\n"
    "  }\n"
    "  min_wrapping_ttl = \"1s\"\n"
    "}\n"
    "path \"sys/health\" { capabilities = [\"read\", \"sudo\"] }\n";

static cf_hcl_node_t *
cf_test_parse_ok(const char *text)
{
    cf_hcl_node_t  *root = NULL;
    char            err[128] = "unset";
    cf_err_t        rc;

    rc = cf_hcl_parse(text, strlen(text), &root, err, sizeof(err));
    if (rc != CF_OK)
        fprintf(stderr, "unexpected error: %s\n", err);
    assert_int_equal(rc, CF_OK);
    assert_non_null(root);
    assert_int_equal(root->type, CF_HCL_OBJECT);
    assert_string_equal(err, "");
    return root;
}

/* Parse must fail with CF_ERR_INVALID and an error starting with want. */
static void
cf_test_parse_bad(const char *text, size_t len, const char *want)
{
    cf_hcl_node_t  *root = (cf_hcl_node_t *) 1;
    char            err[128] = "";
    cf_err_t        rc;

    rc = cf_hcl_parse(text, len, &root, err, sizeof(err));
    if (rc != CF_ERR_INVALID || strncmp(err, want, strlen(want)) != 0)
        fprintf(stderr, "want '%s', got %d '%s'\n", want, rc, err);
    assert_int_equal(rc, CF_ERR_INVALID);
    assert_null(root);
    assert_true(strncmp(err, want, strlen(want)) == 0);
}

static const cf_hcl_node_t *
cf_test_get(const cf_hcl_node_t *parent, const char *key)
{
    const cf_hcl_node_t  *n;

    for (n = parent->child; n != NULL; n = n->next) {
        if (n->key != NULL && strcmp(n->key, key) == 0)
            return n;
    }
    fail_msg("no key %s", key);
    return NULL;
}

static size_t
cf_test_count(const cf_hcl_node_t *n)
{
    size_t  c = 0;

    for (n = n->child; n != NULL; n = n->next)
        c++;
    return c;
}

static void
cf_test_attributes(void **state)
{
    cf_hcl_node_t         *root;
    const cf_hcl_node_t   *n;

    (void) state;
    root = cf_test_parse_ok("a = \"x\\\"y\\n\\u00e9\"\n"
                            "b = 42\nc = -1.5e3\nd = true\ne = false\n"
                            "\"quoted key\" = \"\"\n");
    n = cf_test_get(root, "a");
    assert_int_equal(n->type, CF_HCL_STRING);
    assert_string_equal(n->str, "x\"y\n\xc3\xa9");
    assert_int_equal(n->line, 1);
    n = cf_test_get(root, "b");
    assert_int_equal(n->type, CF_HCL_NUMBER);
    assert_string_equal(n->str, "42");
    assert_true(n->num == 42.0);
    assert_int_equal(n->line, 2);
    n = cf_test_get(root, "c");
    assert_true(n->num == -1500.0);
    n = cf_test_get(root, "d");
    assert_int_equal(n->type, CF_HCL_BOOL);
    assert_true(n->boolean);
    assert_false(cf_test_get(root, "e")->boolean);
    assert_string_equal(cf_test_get(root, "quoted key")->str, "");
    assert_int_equal(cf_test_count(root), 6);
    cf_hcl_free(root);
}

static void
cf_test_blocks_labels(void **state)
{
    cf_hcl_node_t         *root;
    const cf_hcl_node_t   *n;

    (void) state;
    root = cf_test_parse_ok("storage \"sqlite\" {\n  path = \"/x\"\n}\n"
                            "hsm {\n}\n"
                            "a \"b\" c {\n x = 1 }\n");
    n = root->child;
    assert_int_equal(n->type, CF_HCL_BLOCK);
    assert_string_equal(n->key, "storage");
    assert_int_equal(n->nlabels, 1);
    assert_string_equal(n->labels[0], "sqlite");
    assert_int_equal(n->line, 1);
    assert_string_equal(cf_test_get(n, "path")->str, "/x");
    assert_int_equal(cf_test_get(n, "path")->line, 2);
    n = n->next;
    assert_int_equal(n->type, CF_HCL_BLOCK);
    assert_int_equal(n->nlabels, 0);
    assert_null(n->child);
    n = n->next;
    assert_int_equal(n->nlabels, 2);
    assert_string_equal(n->labels[0], "b");
    assert_string_equal(n->labels[1], "c");
    assert_int_equal(n->line, 6);
    cf_hcl_free(root);
}

static void
cf_test_objects_lists(void **state)
{
    cf_hcl_node_t         *root;
    const cf_hcl_node_t   *n, *o;

    (void) state;
    root = cf_test_parse_ok("o = { a = 1, b = [1, \"two\", [true], {}]\n"
                            "  inner = { deep = \"x\" } }\n"
                            "l = [\n  \"x\",\n  \"y\",\n]\n"
                            "e = []\n");
    o = cf_test_get(root, "o");
    assert_int_equal(o->type, CF_HCL_OBJECT);
    n = cf_test_get(o, "b");
    assert_int_equal(n->type, CF_HCL_LIST);
    assert_int_equal(cf_test_count(n), 4);
    assert_null(n->child->key);
    assert_int_equal(n->child->next->type, CF_HCL_STRING);
    assert_int_equal(n->child->next->next->type, CF_HCL_LIST);
    assert_int_equal(n->child->next->next->next->type, CF_HCL_OBJECT);
    assert_string_equal(cf_test_get(cf_test_get(o, "inner"), "deep")->str,
                        "x");
    n = cf_test_get(root, "l");
    assert_int_equal(cf_test_count(n), 2);
    assert_int_equal(n->line, 3);
    assert_null(cf_test_get(root, "e")->child);
    cf_hcl_free(root);
}

static void
cf_test_heredoc(void **state)
{
    cf_hcl_node_t  *root;

    (void) state;
    root = cf_test_parse_ok("a = <<EOT\nline 1\n  line \"2\"\nEOT\n"
                            "b = <<-EOT\n    x\n      y\n\n    EOT\n"
                            "c = 1\n"
                            "d = <<EOT\nEOT\n");
    assert_string_equal(cf_test_get(root, "a")->str,
                        "line 1\n  line \"2\"\n");
    assert_string_equal(cf_test_get(root, "b")->str, "x\n  y\n\n");
    assert_int_equal(cf_test_get(root, "c")->line, 10);
    assert_string_equal(cf_test_get(root, "d")->str, "");
    cf_hcl_free(root);
    cf_test_parse_bad("a = <<EOT\nnever ends\n", 21, "line 1: heredoc");
    cf_test_parse_bad("a = <<EOT x\nEOT\n", 16, "line 1: heredoc anchor");
    cf_test_parse_bad("a = <<\nEOT\n", 11, "line 1: expected a heredoc");
    cf_test_parse_bad("<<EOT\nk\nEOT\n= 1\n", 16, "line 1: expected a key");
}

static void
cf_test_comments(void **state)
{
    cf_hcl_node_t  *root;

    (void) state;
    root = cf_test_parse_ok("# hash\n// slashes\n/* block\n spanning */\n"
                            "a = 1 # trailing\n"
                            "b = /* inline */ 2 // trailing\n"
                            "c = \"# not a comment\"\n");
    assert_int_equal(cf_test_get(root, "a")->line, 5);
    assert_int_equal(cf_test_get(root, "b")->line, 6);
    assert_string_equal(cf_test_get(root, "c")->str, "# not a comment");
    cf_hcl_free(root);
    cf_test_parse_bad("a = 1\n/* open\n\n", 11, "line 2: unterminated comment");
}

static void
cf_test_json(void **state)
{
    cf_hcl_node_t         *root;
    const cf_hcl_node_t   *n;

    (void) state;
    root = cf_test_parse_ok("{\"path\": {\"secret/*\": {\"capabilities\": "
                            "[\"read\"]}},\n \"n\": 1.5, \"t\": true,"
                            " \"s\": \"\\ud83d\\ude00\"}");
    n = cf_test_get(root, "path");
    assert_int_equal(n->type, CF_HCL_OBJECT);
    n = cf_test_get(n, "secret/*");
    assert_int_equal(n->type, CF_HCL_OBJECT);
    n = cf_test_get(n, "capabilities");
    assert_int_equal(n->type, CF_HCL_LIST);
    assert_string_equal(n->child->str, "read");
    assert_true(cf_test_get(root, "n")->num == 1.5);
    assert_int_equal(cf_test_get(root, "n")->line, 2);
    assert_string_equal(cf_test_get(root, "s")->str, "\xf0\x9f\x98\x80");
    cf_hcl_free(root);
    root = cf_test_parse_ok("  {}  ");
    assert_null(root->child);
    cf_hcl_free(root);
    cf_test_parse_bad("{\"a\": 1,}", 9, "line 1: expected a string key");
    cf_test_parse_bad("{\"a\": [1,]}", 11, "line 1: expected a value");
    cf_test_parse_bad("{\"a\": null}", 11, "line 1: null is not supported");
    cf_test_parse_bad("{\"a\" = 1}", 9, "line 1: unexpected character");
    cf_test_parse_bad("{\"a\": 1} x", 10, "line 1: unexpected text");
    cf_test_parse_bad("{# c\n}", 6, "line 1: unexpected character");
    cf_test_parse_bad("{\"a\": 1", 7, "line 1: unclosed '{'");
    cf_test_parse_bad("{\"a\": \"\\ud83d\"}", 15, "line 1: bad \\u escape");
}

typedef struct {
    char   labels[8][32];
    int    lines[8];
    size_t n;
} cf_test_seen_t;

static cf_err_t
cf_test_block_cb(const char *label, const cf_hcl_node_t *body, void *arg)
{
    cf_test_seen_t        *s = arg;
    const cf_hcl_node_t   *n;

    assert_true(s->n < 8);
    snprintf(s->labels[s->n], sizeof(s->labels[0]), "%s", label);
    s->lines[s->n] = body->line;
    s->n++;
    for (n = body->child; n != NULL; n = n->next) {
        if (strcmp(n->key, "capabilities") == 0)
            return CF_OK;
    }
    return CF_ERR_PERMISSION;
}

static void
cf_test_policy_example(void **state)
{
    static const char *const  others[] = {
        "path = { \"a/*\" = { capabilities = [\"read\"] } }\n",
        "{\"path\": {\"a/*\": {\"capabilities\": [\"read\"]}}}",
        "{\"path\": [{\"a/*\": {\"capabilities\": [\"read\"]}}]}",
    };
    cf_hcl_node_t         *root;
    const cf_hcl_node_t   *p, *ap, *n;
    cf_test_seen_t         seen;
    size_t                 i;
    int                    line = 0;

    (void) state;
    root = cf_test_parse_ok(cf_test_policy);
    p = root->child;
    assert_int_equal(p->type, CF_HCL_BLOCK);
    assert_string_equal(p->labels[0], "secret/data/*");
    assert_int_equal(p->line, 2);
    n = cf_test_get(p, "capabilities");
    assert_int_equal(cf_test_count(n), 3);
    assert_string_equal(n->child->next->next->str, "update");
    ap = cf_test_get(p, "allowed_parameters");
    assert_int_equal(ap->type, CF_HCL_OBJECT);
    assert_null(cf_test_get(ap, "foo")->child);
    assert_string_equal(cf_test_get(ap, "bar")->child->next->str, "qux");
    assert_string_equal(cf_test_get(p, "min_wrapping_ttl")->str, "1s");
    assert_int_equal(p->next->line, 10);
    assert_string_equal(p->next->labels[0], "sys/health");

    memset(&seen, 0, sizeof(seen));
    assert_int_equal(cf_hcl_blocks(root, "path", cf_test_block_cb, &seen,
                                   &line), CF_OK);
    assert_int_equal(seen.n, 2);
    assert_string_equal(seen.labels[0], "secret/data/*");
    assert_string_equal(seen.labels[1], "sys/health");
    assert_int_equal(seen.lines[1], 10);
    cf_hcl_free(root);

    for (i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        root = cf_test_parse_ok(others[i]);
        memset(&seen, 0, sizeof(seen));
        assert_int_equal(cf_hcl_blocks(root, "path", cf_test_block_cb,
                                       &seen, NULL), CF_OK);
        assert_int_equal(seen.n, 1);
        assert_string_equal(seen.labels[0], "a/*");
        cf_hcl_free(root);
    }

    /* Wrong shapes are refused with the line at fault. */
    root = cf_test_parse_ok("x = 1\npath = \"a\"\n");
    assert_int_equal(cf_hcl_blocks(root, "path", cf_test_block_cb, &seen,
                                   &line), CF_ERR_INVALID);
    assert_int_equal(line, 2);
    cf_hcl_free(root);
    root = cf_test_parse_ok("\n\npath \"a\" \"b\" {}\n");
    assert_int_equal(cf_hcl_blocks(root, "path", cf_test_block_cb, &seen,
                                   &line), CF_ERR_INVALID);
    assert_int_equal(line, 3);
    cf_hcl_free(root);
    /* The callback's error stops the walk. */
    root = cf_test_parse_ok("\npath \"a\" {}\n");
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(cf_hcl_blocks(root, "path", cf_test_block_cb, &seen,
                                   &line), CF_ERR_PERMISSION);
    assert_int_equal(line, 2);
    cf_hcl_free(root);
}

static void
cf_test_errors(void **state)
{
    (void) state;
    cf_test_parse_bad("a = 1\nb 1\n", 10, "line 2: expected '=' after key");
    cf_test_parse_bad("a = 1\n\nb = \"open\n", 17,
                      "line 3: unterminated string");
    cf_test_parse_bad("x {\n a = 1\n", 11, "line 1: unclosed '{'");
    cf_test_parse_bad("x = [1,\n2\n", 10, "line 1: unclosed '['");
    cf_test_parse_bad("a = 1 b = 2\n", 12, "line 1: expected a newline");
    cf_test_parse_bad("a = \n", 5, "line 2: expected a value");
    cf_test_parse_bad("a = bare\n", 9, "line 1: expected a value");
    cf_test_parse_bad("a = 30s\n", 8, "line 1: malformed number");
    cf_test_parse_bad("a = 01\n", 7, "line 1: malformed number");
    cf_test_parse_bad("a = 1e999\n", 10, "line 1: number out of range");
    cf_test_parse_bad("}\n", 2, "line 1: unexpected '}'");
    cf_test_parse_bad("= 1\n", 4, "line 1: expected a key");
    cf_test_parse_bad("a = \"\\q\"\n", 9, "line 1: unknown escape");
    cf_test_parse_bad("a = \"\\u0000\"\n", 13, "line 1: NUL character");
    cf_test_parse_bad("a = \"\t\"\n", 8, "line 1: control character");
    cf_test_parse_bad("a = \"\xc0\x80\"\n", 8, "line 1: invalid UTF-8");
    cf_test_parse_bad("a = [1 2]\n", 10, "line 1: expected ',' or ']'");
    cf_test_parse_bad("x \"l\" = 1\n", 10, "line 1: expected '{' after");
}

static void
cf_test_no_echo(void **state)
{
    static const char *const  bad[] = {
        "pin = \"s3cr3t-PIN\n",
        "pin = s3cr3t-PIN\n",
        "pin = \"s3cr3t-PIN\" s3cr3t-PIN\n",
        "pin = <<EOT\ns3cr3t-PIN\n",
        "pin = \"s3cr3t-PIN\\x\"\n",
        "pin = !s3cr3t-PIN\n",
    };
    cf_hcl_node_t  *root;
    char            err[256];
    size_t          i;

    (void) state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(cf_hcl_parse(bad[i], strlen(bad[i]), &root, err,
                                      sizeof(err)), CF_ERR_INVALID);
        assert_true(strncmp(err, "line 1: ", 8) == 0);
        assert_null(strstr(err, "s3cr3t"));
        assert_null(strstr(err, "PIN"));
    }
}

static void
cf_test_limits(void **state)
{
    char            *buf;
    cf_hcl_node_t   *root;
    char             err[128];
    size_t           i, n;

    (void) state;
    /* Depth 32 is fine, 33 is not. */
    buf = calloc(1, 256);
    assert_non_null(buf);
    n = (size_t) sprintf(buf, "a = ");
    for (i = 0; i < 32; i++)
        buf[n++] = '[';
    for (i = 0; i < 32; i++)
        buf[n++] = ']';
    root = cf_test_parse_ok(buf);
    cf_hcl_free(root);
    n = (size_t) sprintf(buf, "a = ");
    for (i = 0; i < 33; i++)
        buf[n++] = '[';
    for (i = 0; i < 33; i++)
        buf[n++] = ']';
    buf[n] = '\0';
    cf_test_parse_bad(buf, n, "line 1: nesting deeper than 32");
    /* Blocks count too. */
    n = 0;
    for (i = 0; i < 33; i++)
        n += (size_t) sprintf(buf + n, "b{");
    for (i = 0; i < 33; i++)
        buf[n++] = '}';
    buf[n] = '\0';
    cf_test_parse_bad(buf, n, "line 1: nesting deeper than 32");
    free(buf);

    /* Strings up to 64 KiB. */
    buf = malloc((64 << 10) + 16);
    assert_non_null(buf);
    n = (size_t) sprintf(buf, "a = \"");
    memset(buf + n, 'x', 64 << 10);
    n += 64 << 10;
    n += (size_t) sprintf(buf + n, "\"\n");
    root = cf_test_parse_ok(buf);
    assert_int_equal(strlen(root->child->str), 64 << 10);
    cf_hcl_free(root);
    memmove(buf + 6, buf + 5, n - 5);
    buf[5] = 'y';
    cf_test_parse_bad(buf, n + 1, "line 1: string longer than 64 KiB");
    free(buf);

    /* Input up to 1 MiB. */
    n = (1 << 20) + 1;
    buf = malloc(n);
    assert_non_null(buf);
    memset(buf, '\n', n);
    assert_int_equal(cf_hcl_parse(buf, n, &root, err, sizeof(err)),
                     CF_ERR_INVALID);
    assert_null(root);
    assert_non_null(strstr(err, "1 MiB"));
    root = cf_test_parse_ok("");
    cf_hcl_free(root);
    assert_int_equal(cf_hcl_parse(buf, n - 1, &root, err, sizeof(err)),
                     CF_OK);
    cf_hcl_free(root);
    free(buf);
}

static void
cf_test_garbage(void **state)
{
    static const char  bin[] = "a = 1\n\x01\x02\xff\xfe\0garbage";
    cf_hcl_node_t     *root;

    (void) state;
    cf_test_parse_bad(bin, sizeof(bin) - 1, "line 2: unexpected character");
    cf_test_parse_bad("a = \"x\0y\"", 9, "line 1: control character");
    cf_test_parse_bad("\0", 1, "line 1: unexpected character");
    cf_test_parse_bad("a = \"x", 6, "line 1: unterminated string");
    cf_test_parse_bad("a = \"x\\", 7, "line 1: unterminated string");
    cf_test_parse_bad("a = -", 5, "line 1: malformed number");
    cf_test_parse_bad("a = <", 5, "line 1: unexpected character");
    cf_test_parse_bad("a = <<-", 7, "line 1: expected a heredoc");
    /* Only whitespace and comments: an empty object. */
    root = cf_test_parse_ok("  \n\t# x\n");
    assert_null(root->child);
    cf_hcl_free(root);
    assert_int_equal(cf_hcl_parse(NULL, 0, &root, NULL, 0), CF_OK);
    assert_null(root->child);
    cf_hcl_free(root);
    cf_hcl_free(NULL);
}

int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(cf_test_attributes),
        cmocka_unit_test(cf_test_blocks_labels),
        cmocka_unit_test(cf_test_objects_lists),
        cmocka_unit_test(cf_test_heredoc),
        cmocka_unit_test(cf_test_comments),
        cmocka_unit_test(cf_test_json),
        cmocka_unit_test(cf_test_policy_example),
        cmocka_unit_test(cf_test_errors),
        cmocka_unit_test(cf_test_no_echo),
        cmocka_unit_test(cf_test_limits),
        cmocka_unit_test(cf_test_garbage),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
