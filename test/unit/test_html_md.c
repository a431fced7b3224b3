/* SPDX-License-Identifier: MIT */
/* Unit tests for html_md: HTML -> Markdown per construct, Markdown -> HTML, ADO quirks,
 * limits, and the round-trip fixed point on tables of cases, tricky strings and seeded
 * random documents. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "err.h"
#include "html_md.h"
#include "mem.h"

static char *to_md(const char *html)
{
	char err[ACS_ERR_LEN] = "";
	char *out = NULL;
	int rc = acs_html_to_markdown(html, strlen(html), &out, err);
	if (rc)
		fail_msg("acs_html_to_markdown(%s) = %d: %s", html, rc, err);
	return out;
}

static char *to_html(const char *md)
{
	char err[ACS_ERR_LEN] = "";
	char *out = NULL;
	int rc = acs_markdown_to_html(md, strlen(md), &out, err);
	if (rc)
		fail_msg("acs_markdown_to_html(%s) = %d: %s", md, rc, err);
	return out;
}

/* canon(md) is a fixed point, and html -> md -> html -> md is stable. Returns canon(md). */
static char *check_fixed_point(const char *md)
{
	char *c1 = acs_html_md_canonical_markdown(md);
	assert_non_null(c1);
	char *c2 = acs_html_md_canonical_markdown(c1);
	assert_non_null(c2);
	if (strcmp(c1, c2)) {
		/* cmocka truncates long messages: print in full first. */
		fprintf(stderr, "not a fixed point\ninput: [%s]\ncanon: [%s]\nagain: [%s]\n", md,
			c1, c2);
		fail();
	}
	free(c2);
	return c1;
}

static void check_html_stable(const char *html)
{
	char *m1 = to_md(html);
	char *h2 = to_html(m1);
	char *m2 = to_md(h2);
	if (strcmp(m1, m2)) {
		fprintf(stderr,
			"html round trip unstable\nhtml: [%s]\nmd1: [%s]\nhtml2: [%s]\n"
			"md2: [%s]\n",
			html, m1, h2, m2);
		fail();
	}
	free(m1);
	free(h2);
	free(m2);
}

struct h2m_case {
	const char *html;
	const char *md;
};

static const struct h2m_case h2m_cases[] = {
	/* blocks and whitespace */
	{ "", "" },
	{ "   \n\t ", "" },
	{ "<p>Hello world</p>", "Hello world" },
	{ "<p>  lots \n of\t\tspace  </p>", "lots of space" },
	{ "<p>one</p><p>two</p>", "one\n\ntwo" },
	{ "<div>one</div><div>two</div>", "one\n\ntwo" },
	{ "<div>a<div>b</div>c</div>", "a\n\nb\n\nc" },
	{ "<p>line one<br>line two</p>", "line one\\\nline two" },
	{ "<p>a <br> b<br></p>", "a\\\nb" },
	{ "<p>a<br><br>b</p>", "a\n\nb" },
	{ "<p>a</p>\r\n<p>b\r\nc</p>", "a\n\nb c" },
	/* inline formatting */
	{ "<b>bold</b> and <strong>strong</strong>", "**bold** and **strong**" },
	{ "<i>it</i> and <em>em</em>", "*it* and *em*" },
	{ "<s>a</s> <strike>b</strike> <del>c</del>", "~~a~~ ~~b~~ ~~c~~" },
	{ "<b>a <i>b</i> c</b>", "**a *b* c**" },
	{ "<b><i>both</i></b>", "***both***" },
	{ "<b> spaced </b>x", "**spaced** x" },
	{ "<b>a</b><b>b</b>", "**ab**" },
	{ "<b><b>x</b></b>", "**x**" },
	{ "<b></b><i> </i>x", "x" },
	{ "<code>a*b</code> and <code>x`y</code>", "`a*b` and ``x`y``" },
	{ "<code>`tick</code>", "`` `tick ``" },
	{ "<p><kbd>Ctrl</kbd>+<kbd>C</kbd></p>", "`Ctrl`+`C`" },
	/* headings */
	{ "<h1>Title</h1><h2>Sub</h2><h6>Six</h6>", "# Title\n\n## Sub\n\n###### Six" },
	{ "<h3>a<br>b</h3>", "### a b" },
	{ "<h2>C#</h2>", "## C\\#" },
	{ "<h1></h1>", "" },
	/* links and images */
	{ "<a href=\"https://example.com/x\">site</a>", "[site](https://example.com/x)" },
	{ "<a href=\"https://example.com/\">https://example.com/</a>", "<https://example.com/>" },
	{ "<a href=\"https://e.com/a b(c)\">x</a>", "[x](https://e.com/a%20b\\(c\\))" },
	{ "<a href=\"https://e.com/?a=1&amp;b=2\">q</a>", "[q](https://e.com/?a=1&b=2)" },
	{ "<a href=\"javascript:alert(1)\">click</a>", "click" },
	{ "<a href=\" JaVa\tScript:alert(1)\">click</a>", "click" },
	{ "<a href=\"data:text/html,x\">d</a>", "d" },
	{ "<a>no href</a>", "no href" },
	{ "<a href=\"u\"><b>bold link</b></a>", "[**bold link**](u)" },
	{ "<img src=\"https://e.com/i.png\" alt=\"a pic\">", "![a pic](https://e.com/i.png)" },
	{ "<img src=\"javascript:x\" alt=\"alt text\">", "alt text" },
	{ "<a href=\"u\"><img src=\"i.png\" alt=\"\"></a>", "[![](i.png)](u)" },
	{ "Wow!<a href=\"u\">x</a>", "Wow\\![x](u)" },
	/* lists */
	{ "<ul><li>a</li><li>b</li></ul>", "- a\n- b" },
	{ "<ol><li>a</li><li>b</li></ol>", "1. a\n2. b" },
	{ "<ol start=\"7\"><li>a</li><li>b</li></ol>", "7. a\n8. b" },
	{ "<ul><li>a<ul><li>b<ol><li>c</li></ol></li></ul></li><li>d</li></ul>", "- a\n  - b\n    "
										 "1. c\n- d" },
	{ "<ul><li>a</li><ul><li>nested</li></ul><li>b</li></ul>", "- a\n  - nested\n- b" },
	{ "<ul><li><p>p1</p><p>p2</p></li><li>x</li></ul>", "- p1\n\n  p2\n\n- x" },
	{ "<ul><li>a</li></ul><ul><li>b</li></ul>", "- a\n- b" },
	{ "<ul><li>a</li></ul><ol><li>b</li></ol>", "- a\n\n1. b" },
	{ "<ul><li></li><li> </li><li>x</li></ul>", "- x" },
	{ "<ul><li>a<ol start=\"3\"><li>b</li></ol></li></ul>", "- a\n\n  3. b" },
	/* md4c mis-nests items that open with a rule or heading: canonical items do not. */
	{ "<ul><li><hr>x</li><li><hr></li></ul>", "- x" },
	{ "<ul><li><h2>h</h2><p>p</p></li></ul>", "- h\n\n  p" },
	{ "<ul><li>a<h2>h</h2><hr></li></ul>", "- a\n\n  ## h\n\n  ---" },
	/* quotes */
	{ "<blockquote>quoted</blockquote>", "> quoted" },
	{ "<blockquote><p>a</p><p>b</p></blockquote>", "> a\n>\n> b" },
	{ "<blockquote>a<blockquote>b</blockquote></blockquote>", "> a\n>\n> > b" },
	{ "<blockquote><ul><li>x</li></ul></blockquote>", "> - x" },
	/* code blocks */
	{ "<pre>int x;\n  y();\n</pre>", "```\nint x;\n  y();\n```" },
	{ "<pre><code class=\"language-c\">a *b* &lt;c&gt;</code></pre>", "```c\na *b* <c>\n```" },
	{ "<pre>a\n```\nb</pre>", "````\na\n```\nb\n````" },
	{ "<pre>\tx</pre>", "```\n    x\n```" },
	{ "<ul><li><pre>x\n\ny</pre></li></ul>", "- ```\n  x\n\n  y\n  ```" },
	/* tables */
	{ "<table><tr><th>h1</th><th>h2</th></tr><tr><td>a</td><td>b</td></tr></table>", "| h1 | "
											 "h2 |\n| "
											 "--- | "
											 "--- |\n| "
											 "a | b "
											 "|" },
	{ "<table><thead><tr><th align=\"right\">n</th><th align=\"center\">c</th></tr></thead>"
	  "<tbody><tr><td>1</td></tr></tbody></table>",
	  "| n | c |\n| ---: | :---: |\n| 1 | |" },
	{ "<table><tr><td>a|b</td><td><code>x|y</code></td><td>p<br>q</td></tr></table>", "| a\\|b "
											  "| x\\|y "
											  "| p q "
											  "|\n| "
											  "--- | "
											  "--- | "
											  "--- |" },
	{ "<table><tr><td><ul><li>a</li><li>b</li></ul></td></tr></table>", "| a b |\n| --- |" },
	/* rules */
	{ "<p>a</p><hr><p>b</p>", "a\n\n---\n\nb" },
	/* escaping */
	{ "<p>*not em* _nor_ this</p>", "\\*not em\\* \\_nor\\_ this" },
	{ "<p>snake_case_name</p>", "snake_case_name" },
	{ "<p># not a heading</p>", "\\# not a heading" },
	{ "<p>1. not a list</p>", "1\\. not a list" },
	{ "<p>- nor this</p><p>+ nor this</p>", "\\- nor this\n\n\\+ nor this" },
	{ "<p>&gt; not a quote</p>", "\\> not a quote" },
	{ "<p>a &lt;b&gt; &amp; c | d [e] `f` ~g~ \\h</p>", "a \\<b> & c \\| d \\[e\\] \\`f\\` "
							    "\\~g\\~ \\\\h" },
	{ "<p>&amp;amp; is an entity</p>", "\\&amp; is an entity" },
	{ "<p>a<br>2) b<br>=== <br>---</p>", "a\\\n2\\) b\\\n\\===\\\n\\---" },
	/* unknown and dropped tags */
	{ "<p>x<custom-tag>inside</custom-tag>y</p>", "xinsidey" },
	{ "<p><u>under</u> <sup>2</sup> <font color=red>red</font></p>", "under 2 red" },
	{ "<p>a<script>alert(1)</script>b<style>p{}</style>c</p>", "abc" },
	{ "<head><title>T</title></head><body>body</body>", "body" },
	{ "<!-- comment --><p>x</p>", "x" },
	/* ADO quirks */
	{ "<div>First line</div><div><br></div><div>Second&nbsp;line</div><div><br></div>", "First "
											    "line\n"
											    "\nSeco"
											    "nd "
											    "lin"
											    "e" },
	{ "<div><span style=\"font-weight:bold\">B</span> <span style=\"font-style: italic;\">I"
	  "</span> <span style=\"text-decoration: line-through\">S</span> "
	  "<span style=\"color:red\">plain</span></div>",
	  "**B** *I* ~~S~~ plain" },
	{ "<div>Hi <a href=\"#\" data-vss-mention=\"version:2.0,0c1b\">@Jane Doe</a>, "
	  "see this.</div>",
	  "Hi @Jane Doe, see this." },
	{ "<div>&nbsp;</div><div>x&nbsp;</div>", "x" },
	/* unicode */
	{ "<p>héllo wörld — ✓ 🎉</p>", "héllo wörld — ✓ 🎉" },
};

static void test_html_to_md_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < ACS_ARRAY_SIZE(h2m_cases); i++) {
		char *md = to_md(h2m_cases[i].html);
		if (strcmp(md, h2m_cases[i].md))
			fail_msg("case %zu\nhtml: %s\nwant: [%s]\ngot:  [%s]", i, h2m_cases[i].html,
				 h2m_cases[i].md, md);
		free(md);
	}
}

/* Every expected Markdown above is canonical: converting it to HTML and back gives it. */
static void test_html_to_md_cases_fixed_point(void **state)
{
	(void)state;
	for (size_t i = 0; i < ACS_ARRAY_SIZE(h2m_cases); i++) {
		char *c = check_fixed_point(h2m_cases[i].md);
		if (strcmp(c, h2m_cases[i].md))
			fail_msg("case %zu not canonical\nmd:    [%s]\ncanon: [%s]", i,
				 h2m_cases[i].md, c);
		free(c);
		check_html_stable(h2m_cases[i].html);
	}
}

struct m2h_case {
	const char *md;
	const char *html;
};

static const struct m2h_case m2h_cases[] = {
	{ "", "" },
	{ "Hello", "<p>Hello</p>\n" },
	{ "# T\n\n###### six", "<h1>T</h1>\n<h6>six</h6>\n" },
	{ "**b** *i* ~~s~~ `c`", "<p><strong>b</strong> <em>i</em> <del>s</del> "
				 "<code>c</code></p>\n" },
	{ "a\\\nb", "<p>a<br>\nb</p>\n" },
	{ "[x](https://e.com) <https://e.com>", "<p><a href=\"https://e.com\">x</a> <a "
						"href=\"https://e.com\">https://e.com</a></p>\n" },
	{ "![alt](i.png)", "<p><img src=\"i.png\" alt=\"alt\"></p>\n" },
	{ "- a\n- b", "<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n" },
	{ "3. a\n4. b", "<ol start=\"3\">\n<li>a</li>\n<li>b</li>\n</ol>\n" },
	{ "> q", "<blockquote>\n<p>q</p>\n</blockquote>\n" },
	{ "```c\nx < y\n```", "<pre><code class=\"language-c\">x &lt; y\n</code></pre>\n" },
	{ "---", "<hr>\n" },
	{ "| a |\n| --- |\n| b |", "<table>\n<thead>\n<tr>\n<th>a</th>\n</tr>\n</"
				   "thead>\n<tbody>\n<tr>\n<td>b</td>\n"
				   "</tr>\n</tbody>\n</table>\n" },
	/* raw HTML in Markdown is text, never markup */
	{ "<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n" },
	{ "a <b onclick=\"x\">b</b>", "<p>a &lt;b onclick=&quot;x&quot;&gt;b&lt;/b&gt;</p>\n" },
	{ "<div>\nblock\n</div>", "<p>&lt;div&gt;\nblock\n&lt;/div&gt;</p>\n" },
	/* dangerous URLs are neutralised */
	{ "[x](javascript:alert(1))", "<p><a href=\"#\">x</a></p>\n" },
	{ "![i](JavaScript:x)", "<p><img src=\"#\" alt=\"i\"></p>\n" },
	{ "<javascript:alert(1)>", "<p><a href=\"#\">javascript:alert(1)</a></p>\n" },
	/* bare URLs stay text (no permissive autolinks) */
	{ "see https://e.com", "<p>see https://e.com</p>\n" },
	{ "a\r\nb", "<p>a\nb</p>\n" },
};

static void test_md_to_html_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < ACS_ARRAY_SIZE(m2h_cases); i++) {
		char *html = to_html(m2h_cases[i].md);
		if (strcmp(html, m2h_cases[i].html))
			fail_msg("case %zu\nmd: %s\nwant: [%s]\ngot:  [%s]", i, m2h_cases[i].md,
				 m2h_cases[i].html, html);
		free(html);
		free(check_fixed_point(m2h_cases[i].md));
		check_html_stable(m2h_cases[i].html);
	}
}

static void test_canonical_forms(void **state)
{
	(void)state;
	static const struct {
		const char *in, *canon;
	} cases[] = {
		{ "Title\n=====\n\ntext  \nmore", "# Title\n\ntext\\\nmore" },
		{ "* a\n* b\n\n\n", "- a\n- b" },
		{ "1) a\n1) b", "1. a\n2. b" },
		{ "__b__ _i_", "**b** *i*" },
		{ "***\n\n___", "---\n\n---" },
		{ "    indented code", "```\nindented code\n```" },
		{ "~~~\nx\n~~~", "```\nx\n```" },
		{ "[x](<a b> \"title\")", "[x](a%20b)" },
		{ "- a\n\n- b", "- a\n- b" },
		{ "[x](javascript:alert(1))", "x" },
		{ "a\nb", "a b" },
		{ "\n\n  x  \n\n", "x" },
		{ "- [ ] task", "- \\[ \\] task" },
		{ "[ref]\n\n[ref]: https://e.com", "[ref](https://e.com)" },
	};
	for (size_t i = 0; i < ACS_ARRAY_SIZE(cases); i++) {
		char *c = check_fixed_point(cases[i].in);
		if (strcmp(c, cases[i].canon))
			fail_msg("case %zu\nin: [%s]\nwant: [%s]\ngot:  [%s]", i, cases[i].in,
				 cases[i].canon, c);
		free(c);
	}
}

static void test_equal(void **state)
{
	(void)state;
	assert_true(acs_html_md_equal("* a\n* b", "- a\n\n- b"));
	assert_true(acs_html_md_equal("__x__", "**x**"));
	assert_true(acs_html_md_equal(NULL, ""));
	assert_true(acs_html_md_equal("  \n", NULL));
	assert_false(acs_html_md_equal("**x**", "*x*"));
	assert_false(acs_html_md_equal("a", "b"));
	char *c = acs_html_md_canonical_markdown(NULL);
	assert_string_equal(c, "");
	free(c);
}

static const char *const tricky[] = {
	"",
	" ",
	"\n\n\t \n",
	"*",
	"**",
	"***",
	"_",
	"__init__ and *args",
	"2 * 3 * 4 = 24",
	"a*b*c",
	"a_b_c_",
	"#",
	"#hashtag",
	"# ",
	"##### #####",
	"a | b | c",
	"| a |",
	"|---|",
	"`",
	"``",
	"` a `",
	"```",
	"a `b` c ``d`` e",
	"1.",
	"1. x",
	"2020. was a year",
	"1) item",
	"-",
	"- ",
	"-x",
	"--",
	"+ plus",
	"=",
	"a\n===",
	"a\n---",
	"<",
	"<>",
	"<b>not bold</b>",
	"<https://e.com>",
	"<mailto:a@b.c>",
	"a@b.com",
	"&",
	"&amp;",
	"&#42;",
	"&nbsp;",
	"&notanentity;",
	"\\",
	"\\\\",
	"a\\",
	"\\*",
	"[",
	"]",
	"[a]",
	"[a]: b",
	"[a](b",
	"![",
	"!",
	"Hi!",
	"!*a*",
	"~",
	"~~",
	"~a~",
	"> ",
	">",
	">>> deep",
	"héllo wörld",
	"日本語のテキスト",
	"emoji 🎉🚀 and ZWJ 👩‍💻",
	"\xc2\xa0nbsp\xc2\xa0\xc2\xa0lead",
	"invalid \xff\xfe utf8 \xc3",
	"nul\x01 ctl\x7f",
	"tab\there",
	"a\r\nb\rc",
	"**bold**text",
	"text**bold**",
	"**\"quoted\"**x",
	"x**\"quoted\"**",
	"*a **b** c*",
	"**a *b* c**",
	"***a** b*",
	"***a* b**",
	"*a*b*c*",
	"[**a**](u)",
	"**[a](u)**",
	"[a](u)[b](u)",
	"[`code`](u)",
	"[a\\]b](u)",
	"![a*b](i)",
	"[![i](s)](u)",
	"[x](u \"title\")",
	"[x](<u v>)",
	"[x](u(v))",
	"[x](u%20v)",
	"[x](#anchor)",
	"<http://a.b/c_d?x=1&y=2>",
	"www.example.com",
	"- a\n- b\n\n  c",
	"- a\n\n  b\n- c",
	"1. a\n1. b\n1. c",
	"- a\n  - b\n    - c\n      - d",
	"- > q\n- ```\n  c\n  ```",
	"> - a\n>   - b\n> c",
	"- # h\n- ---\n- | t |\n  | - |",
	"| a | b |\n|:-|-:|\n| c |",
	"| `a|b` |\n| - |",
	"```\n\n\nx\n\n\n```",
	"```\n  \n```",
	"    a\n\n    b",
	"a  \nb",
	"a\\\n\\\nb",
	"*a\nb*",
	"h\n\n---\n\n---",
};

static void test_tricky_strings(void **state)
{
	(void)state;
	for (size_t i = 0; i < ACS_ARRAY_SIZE(tricky); i++) {
		free(check_fixed_point(tricky[i]));
		/* the same bytes as HTML text */
		check_html_stable(tricky[i]);
	}
}

static void test_long_line(void **state)
{
	(void)state;
	size_t n = 200000;
	char *s = acs_xmalloc(n + 1);
	for (size_t i = 0; i < n; i++)
		s[i] = "ab *_#|`<&-1.\\"[i % 15];
	s[n] = '\0';
	free(check_fixed_point(s));
	check_html_stable(s);
	free(s);
}

static char *repeat3(const char *open, size_t n, const char *mid, const char *close)
{
	struct acs_buf b;
	acs_buf_init(&b, (size_t)64 << 20);
	for (size_t i = 0; i < n; i++)
		acs_require(!acs_buf_appends(&b, open));
	acs_require(!acs_buf_appends(&b, mid));
	for (size_t i = 0; i < n; i++)
		acs_require(!acs_buf_appends(&b, close));
	return acs_buf_steal(&b, NULL);
}

static void test_deep_nesting(void **state)
{
	(void)state;
	char *html = repeat3("<div>", 200, "deep", "</div>");
	char *md = to_md(html);
	assert_string_equal(md, "deep");
	free(md);
	free(html);

	/* 200 nested lists: structure is kept to the limit, the rest degrades to text. */
	html = repeat3("<ul><li>x", 200, "end", "</li></ul>");
	md = to_md(html);
	assert_non_null(strstr(md, "end"));
	size_t indent = 0;
	const char *last = strrchr(md, '\n');
	while (last && last[1 + indent] == ' ')
		indent++;
	assert_true(indent <= 2 * ACS_HTML_MD_MAX_NESTING);
	free(md);
	check_html_stable(html);
	free(html);

	html = repeat3("<blockquote>q", 200, "end", "</blockquote>");
	check_html_stable(html);
	free(html);
	html = repeat3("<b><i><s>", 300, "end", "</s></i></b>");
	md = to_md(html);
	assert_string_equal(md, "***~~end~~***");
	free(md);
	free(html);

	/* Very deep input must not blow the stack anywhere. */
	html = repeat3("<div><span>", 50000, "x", "</span></div>");
	md = to_md(html);
	assert_string_equal(md, "x");
	free(md);
	free(html);

	md = repeat3("- ", 200, "x", "");
	free(check_fixed_point(md));
	free(md);
	md = repeat3(">", 5000, "x", "");
	free(check_fixed_point(md));
	free(md);
	md = repeat3("[", 5000, "x", "](u)");
	free(check_fixed_point(md));
	free(md);
}

static void test_limits(void **state)
{
	(void)state;
	size_t n = ACS_HTML_MD_MAX_INPUT + 1;
	char *big = acs_xmalloc(n);
	memset(big, 'a', n);
	char err[ACS_ERR_LEN] = "";
	char *out = (char *)1;
	assert_int_equal(acs_html_to_markdown(big, n, &out, err), ACS_ETOOBIG);
	assert_null(out);
	assert_true(strlen(err) > 0);
	out = (char *)1;
	assert_int_equal(acs_markdown_to_html(big, n, &out, NULL), ACS_ETOOBIG);
	assert_null(out);
	/* Exactly at the limit is accepted. */
	assert_int_equal(acs_html_to_markdown(big, n - 1, &out, err), 0);
	assert_int_equal(strlen(out), n - 1);
	free(out);
	free(big);
	/* Length, not NUL, bounds the input; embedded NULs become U+FFFD. */
	assert_int_equal(acs_html_to_markdown("a\0b", 3, &out, err), 0);
	assert_string_equal(out, "a\xef\xbf\xbd"
				 "b");
	free(out);
}

/* ---- seeded random Markdown ---------------------------------------------------------- */

struct rng {
	uint64_t s;
};

static uint32_t rnd(struct rng *r, uint32_t n)
{
	r->s ^= r->s << 13;
	r->s ^= r->s >> 7;
	r->s ^= r->s << 17;
	return (uint32_t)(r->s % n);
}

static void put(struct acs_buf *b, const char *s)
{
	acs_require(!acs_buf_appends(b, s));
}

static const char *const words[] = {
	"alpha",      "beta",  "x",
	"snake_case", "C#",    "a*b",
	"1.",	      "2)",    "-",
	"+",	      "#tag",  "|",
	"`tick`",     "<tag>", "&amp;",
	"&",	      "~",     "=",
	">",	      "!",     "[br]",
	"\\",	      "é",     "🎉",
	"**",	      "_",     "https://e.com/p?q=1&r=2",
	"__x__",      "'q'",   "\"dq\"",
	"(p)",	      "...",   ":",
	"%20",
};

static void gen_inline(struct rng *r, struct acs_buf *b, int depth)
{
	int n = 1 + (int)rnd(r, 6);
	for (int i = 0; i < n; i++) {
		if (i)
			put(b, rnd(r, 8) ? " " : "");
		uint32_t k = rnd(r, depth > 2 ? 4 : 14);
		switch (k) {
		case 0:
		case 1:
		case 2:
		case 3:
			put(b, words[rnd(r, ACS_ARRAY_SIZE(words))]);
			break;
		case 4:
		case 5:
		case 6: {
			static const char *const d[] = { "*", "**", "_", "__", "~~", "***" };
			const char *m = d[rnd(r, ACS_ARRAY_SIZE(d))];
			put(b, m);
			gen_inline(r, b, depth + 1);
			put(b, m);
			break;
		}
		case 7: {
			static const char *const c[] = { "`code`", "`` a`b ``", "` x `", "`|`",
							 "`*`" };
			put(b, c[rnd(r, ACS_ARRAY_SIZE(c))]);
			break;
		}
		case 8:
		case 9: {
			static const char *const u[] = {
				"https://e.com",       "u",	"/a(b)c",  "x y",
				"javascript:alert(1)", "#frag", "a&amp;b", "https://e.com/é"
			};
			put(b, "[");
			gen_inline(r, b, depth + 2);
			put(b, "](");
			put(b, u[rnd(r, ACS_ARRAY_SIZE(u))]);
			put(b, ")");
			break;
		}
		case 10:
			put(b, "![alt ");
			put(b, words[rnd(r, ACS_ARRAY_SIZE(words))]);
			put(b, "](i.png)");
			break;
		case 11:
			put(b, "<https://e.com/x>");
			break;
		case 12:
			put(b, "\\\n");
			break;
		default:
			put(b, words[rnd(r, ACS_ARRAY_SIZE(words))]);
			put(b, "\n");
			break;
		}
	}
}

static void gen_blocks(struct rng *r, struct acs_buf *b, int depth, const char *indent);

static void gen_block(struct rng *r, struct acs_buf *b, int depth, const char *indent)
{
	uint32_t k = rnd(r, depth > 3 ? 3 : 10);
	switch (k) {
	case 0:
	case 1:
	case 2:
		gen_inline(r, b, 0);
		break;
	case 3: {
		static const char *const h[] = { "# ", "## ", "### ", "###### " };
		put(b, h[rnd(r, ACS_ARRAY_SIZE(h))]);
		gen_inline(r, b, 2);
		break;
	}
	case 4:
	case 5: {
		bool ordered = rnd(r, 2);
		int items = 1 + (int)rnd(r, 4);
		int start = rnd(r, 3) ? 1 : (int)rnd(r, 20);
		for (int i = 0; i < items; i++) {
			char marker[16], sub[256];
			if (ordered)
				snprintf(marker, sizeof(marker), "%d. ", start + i);
			else
				snprintf(marker, sizeof(marker), "%s ", rnd(r, 2) ? "-" : "*");
			if (i) {
				put(b, "\n");
				if (rnd(r, 3) == 0)
					put(b, "\n");
				put(b, indent);
			}
			put(b, marker);
			snprintf(sub, sizeof(sub), "%s%*s", indent, (int)strlen(marker), "");
			gen_blocks(r, b, depth + 1, sub);
		}
		break;
	}
	case 6: {
		char sub[256];
		snprintf(sub, sizeof(sub), "%s> ", indent);
		put(b, "> ");
		gen_blocks(r, b, depth + 1, sub);
		break;
	}
	case 7: {
		static const char *const c[] = { "```\ncode *x*\n  indented\n```",
						 "```py\na\n\n\tb\n```", "~~~\n```\n~~~",
						 "```\n```" };
		const char *s = c[rnd(r, ACS_ARRAY_SIZE(c))];
		for (; *s; s++) {
			char ch[2] = { *s, 0 };
			put(b, ch);
			if (*s == '\n')
				put(b, indent);
		}
		break;
	}
	case 8:
		put(b, rnd(r, 2) ? "---" : "***");
		break;
	default:
		put(b, "| a | ");
		gen_inline(r, b, 3);
		put(b, " |\n");
		put(b, indent);
		put(b, "| --- | :-: |\n");
		put(b, indent);
		put(b, "| `x` | y\\|z |");
		break;
	}
}

static void gen_blocks(struct rng *r, struct acs_buf *b, int depth, const char *indent)
{
	int n = 1 + (int)rnd(r, depth ? 2 : 5);
	for (int i = 0; i < n; i++) {
		if (i) {
			put(b, "\n\n");
			put(b, indent);
		}
		/* Inline content with newlines would need the indent after each newline. */
		struct acs_buf blk;
		acs_buf_init(&blk, 1 << 20);
		gen_block(r, &blk, depth, indent);
		char *s = acs_buf_steal(&blk, NULL);
		for (char *p = s; *p; p++) {
			char ch[2] = { *p, 0 };
			put(b, ch);
			if (*p == '\n' && p[1] && p[1] != '\n' &&
			    strncmp(p + 1, indent, strlen(indent)))
				put(b, indent);
		}
		free(s);
	}
}

static void test_random_markdown_fixed_point(void **state)
{
	(void)state;
	struct rng r = { 0x9e3779b97f4a7c15ull };
	for (int i = 0; i < 2000; i++) {
		struct acs_buf b;
		acs_buf_init(&b, 1 << 20);
		gen_blocks(&r, &b, 0, "");
		char *md = acs_buf_steal(&b, NULL);
		free(check_fixed_point(md));
		free(md);
	}
}

/* ---- seeded random HTML -------------------------------------------------------------- */

static void gen_html(struct rng *r, struct acs_buf *b, int depth)
{
	static const char *const tags[] = { "p",
					    "div",
					    "b",
					    "i",
					    "s",
					    "code",
					    "span",
					    "ul",
					    "ol",
					    "li",
					    "blockquote",
					    "pre",
					    "h2",
					    "table",
					    "tr",
					    "td",
					    "th",
					    "a href=\"u\"",
					    "a href=\"#\"",
					    "em",
					    "u" };
	static const char *const leaves[] = {
		"text", " ", "&nbsp;", "<br>", "<hr>", "*",   "&lt;x&gt;",
		"1. ",	"#", "|",      "`",    "\n",   "_a_", "<img src=\"i.png\" alt=\"i\">",
		"x y",	"!"
	};
	int n = 1 + (int)rnd(r, 4);
	for (int i = 0; i < n; i++) {
		if (depth > 6 || rnd(r, 3) == 0) {
			put(b, leaves[rnd(r, ACS_ARRAY_SIZE(leaves))]);
			continue;
		}
		const char *t = tags[rnd(r, ACS_ARRAY_SIZE(tags))];
		char open[64], close[32];
		snprintf(open, sizeof(open), "<%s>", t);
		snprintf(close, sizeof(close), "</%.*s>", (int)strcspn(t, " "), t);
		put(b, open);
		gen_html(r, b, depth + 1);
		put(b, close);
	}
}

static void test_random_html_stable(void **state)
{
	(void)state;
	struct rng r = { 0x2545f4914f6cdd1dull };
	for (int i = 0; i < 1000; i++) {
		struct acs_buf b;
		acs_buf_init(&b, 1 << 20);
		gen_html(&r, &b, 0);
		char *html = acs_buf_steal(&b, NULL);
		check_html_stable(html);
		free(html);
	}
}

/* Conversions are memoised: answers from the table equal fresh ones, through evictions
 * and slot collisions, and each caller gets its own copy. */
static void test_memo(void **state)
{
	(void)state;
	enum {
		N = 300
	};
	char *html[N], *md[N], *first_md[N], *first_canon[N];
	for (int i = 0; i < N; i++) {
		html[i] = acs_xasprintf("<p><b>item %d</b> <i>x</i></p><ul><li>%d</li></ul>", i,
					i * 7);
		md[i] = acs_xasprintf("**item %d** *x*\n\n- %d", i, i * 7);
		assert_int_equal(acs_html_to_markdown(html[i], strlen(html[i]), &first_md[i], NULL),
				 0);
		first_canon[i] = acs_html_md_canonical_markdown(md[i]);
		assert_non_null(first_canon[i]);
	}
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < N; i++) {
			int k = round == 1 ? N - 1 - i : (i * 37) % N;
			char *a = NULL;
			assert_int_equal(acs_html_to_markdown(html[k], strlen(html[k]), &a, NULL),
					 0);
			assert_string_equal(a, first_md[k]);
			a[0] = '#'; /* the caller's own copy */
			free(a);
			char *c = acs_html_md_canonical_markdown(md[k]);
			assert_string_equal(c, first_canon[k]);
			free(c);
			/* Same text, other direction: not mixed up. */
			c = acs_html_md_canonical_markdown(html[k]);
			assert_string_not_equal(c, first_md[k]);
			free(c);
		}
	}
	/* Empty and NULL input: "" without a conversion. */
	char *e = NULL;
	assert_int_equal(acs_html_to_markdown("", 0, &e, NULL), 0);
	assert_string_equal(e, "");
	free(e);
	assert_int_equal(acs_html_to_markdown(NULL, 0, &e, NULL), 0);
	assert_string_equal(e, "");
	free(e);
	e = acs_html_md_canonical_markdown(NULL);
	assert_string_equal(e, "");
	free(e);
	for (int i = 0; i < N; i++) {
		free(html[i]);
		free(md[i]);
		free(first_md[i]);
		free(first_canon[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_html_to_md_cases),
		cmocka_unit_test(test_html_to_md_cases_fixed_point),
		cmocka_unit_test(test_md_to_html_cases),
		cmocka_unit_test(test_canonical_forms),
		cmocka_unit_test(test_equal),
		cmocka_unit_test(test_tricky_strings),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_random_markdown_fixed_point),
		cmocka_unit_test(test_random_html_stable),
		cmocka_unit_test(test_memo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
