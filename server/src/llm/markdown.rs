//! Markdown (what a VLM writes) → plain text in the engine's conventions:
//! blocks separated by a blank line, the lines of a block by `\n`, table rows
//! by `\n` and cells by a tab. A real CommonMark + GFM parser does the work,
//! so escapes, emphasis, links and tables come out right; the HTML that some
//! VLMs emit for tables is flattened the same way.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// Plain text of a Markdown transcription.
pub fn markdown_to_text(markdown: &str) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_MATH | Options::ENABLE_TASKLISTS;
    let mut out = Out::default();
    // Ordered-list counters, one per open list (`None` for bullet lists).
    let mut lists: Vec<Option<u64>> = Vec::new();
    for event in Parser::new_ext(markdown, options) {
        match event {
            Event::Start(tag) => match tag {
                // Inside a list item a paragraph continues the item's line.
                Tag::Paragraph | Tag::Heading { .. } | Tag::CodeBlock(_) | Tag::BlockQuote(_) | Tag::HtmlBlock
                    if lists.is_empty() =>
                {
                    out.block_break()
                }
                Tag::Table(_) => out.block_break(),
                Tag::List(start) => {
                    if lists.is_empty() {
                        out.block_break();
                    } else {
                        out.line_break();
                    }
                    lists.push(start);
                }
                Tag::Item => {
                    out.line_break();
                    // Numbers carry meaning (steps, clauses); bullets do not.
                    if let Some(Some(n)) = lists.last_mut() {
                        out.push(&format!("{n}. "));
                        *n += 1;
                    }
                }
                _ => {}
            },
            Event::End(tag) => match tag {
                TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::CodeBlock | TagEnd::BlockQuote(_)
                    if lists.is_empty() =>
                {
                    out.block_break()
                }
                TagEnd::List(_) => {
                    lists.pop();
                    if lists.is_empty() {
                        out.block_break();
                    }
                }
                TagEnd::TableCell => out.push("\t"),
                TagEnd::TableHead | TagEnd::TableRow => out.end_row(),
                TagEnd::Table => out.block_break(),
                _ => {}
            },
            Event::Text(t) | Event::Code(t) | Event::InlineMath(t) => out.push(&t),
            Event::DisplayMath(t) => {
                out.line_break();
                out.push(t.trim());
                out.line_break();
            }
            Event::Html(h) | Event::InlineHtml(h) => out.push_html(&h),
            Event::SoftBreak | Event::HardBreak => out.push("\n"),
            Event::Rule => out.block_break(),
            Event::TaskListMarker(done) => out.push(if done { "[x] " } else { "[ ] " }),
            Event::FootnoteReference(r) => out.push(&format!("[{r}]")),
        }
    }
    out.finish()
}

#[derive(Default)]
struct Out {
    text: String,
}

impl Out {
    fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }

    /// Ends the current line unless at the start of one.
    fn line_break(&mut self) {
        if !self.text.is_empty() && !self.text.ends_with('\n') {
            self.text.push('\n');
        }
    }

    /// A blank line before the next block (`finish` collapses repeats).
    fn block_break(&mut self) {
        if !self.text.is_empty() {
            self.text.push_str("\n\n");
        }
    }

    fn end_row(&mut self) {
        while self.text.ends_with('\t') || self.text.ends_with(' ') {
            self.text.pop();
        }
        self.text.push('\n');
    }

    /// Flattens an HTML fragment: table cells → tabs, rows/breaks/blocks →
    /// newlines, other tags dropped, the common entities decoded.
    fn push_html(&mut self, html: &str) {
        let mut rest = html;
        while let Some(lt) = rest.find('<') {
            self.push(&decode_entities(&rest[..lt]));
            let Some(gt) = rest[lt..].find('>') else {
                // A lone '<' is text, not a tag.
                self.push(&decode_entities(&rest[lt..]));
                return;
            };
            let tag = rest[lt + 1..lt + gt].trim().to_ascii_lowercase();
            let name: String = tag.trim_start_matches('/').chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
            let closing = tag.starts_with('/');
            match (name.as_str(), closing) {
                ("td" | "th", true) => self.push("\t"),
                ("tr", true) => self.end_row(),
                ("br", _) => self.push("\n"),
                ("table", false) => self.block_break(),
                ("p" | "div" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "table" | "li", true) => self.line_break(),
                _ => {}
            }
            rest = &rest[lt + gt + 1..];
        }
        self.push(&decode_entities(rest));
    }

    fn finish(self) -> String {
        let mut out = String::with_capacity(self.text.len());
        let mut blank_run = 0;
        for line in self.text.lines() {
            let line = line.trim_end();
            if line.is_empty() {
                blank_run += 1;
                continue;
            }
            if !out.is_empty() {
                out.push_str(if blank_run > 0 { "\n\n" } else { "\n" });
            }
            blank_run = 0;
            out.push_str(line);
        }
        out
    }
}

fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    s.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_engine_style_text() {
        let cases: &[(&str, &str)] = &[
            ("", ""),
            ("plain", "plain"),
            ("# Title\n\nFirst line\nsecond line", "Title\n\nFirst line\nsecond line"),
            ("**Acme** _Corp_ `x=1` \\*not emphasis\\*", "Acme Corp x=1 *not emphasis*"),
            ("[the site](http://x.invalid) and ![a logo](l.png)", "the site and a logo"),
            ("- one\n- two\n\nafter", "one\ntwo\n\nafter"),
            ("1. first\n2. second", "1. first\n2. second"),
            ("3. c\n4. d", "3. c\n4. d"),
            ("- [x] done\n- [ ] todo", "[x] done\n[ ] todo"),
            ("- outer\n  - inner", "outer\ninner"),
            ("> quoted *text*", "quoted text"),
            ("a\n\n---\n\nb", "a\n\nb"),
            (
                "Before\n\n| Item | Price |\n|---|---:|\n| Tea | 2.50 |\n| Cake | |\n\nAfter",
                "Before\n\nItem\tPrice\nTea\t2.50\nCake\n\nAfter",
            ),
            ("| a \\| b | c |\n|-|-|\n| 1 | 2 |", "a | b\tc\n1\t2"),
            ("Energy $E=mc^2$ here\n\n$$\\int_0^1 x\\,dx$$", "Energy E=mc^2 here\n\n\\int_0^1 x\\,dx"),
            ("line one<br>line two", "line one\nline two"),
            (
                "<table><tr><th>Item</th><th>Qty</th></tr><tr><td>Tea &amp; milk</td><td>2</td></tr></table>\n\nEnd",
                "Item\tQty\nTea & milk\t2\n\nEnd",
            ),
            ("```\ncode  block\n```", "code  block"),
            ("Ünïcödé 中文 text", "Ünïcödé 中文 text"),
            ("a < b and c > d", "a < b and c > d"),
        ];
        for &(md, want) in cases {
            assert_eq!(markdown_to_text(md), want, "markdown: {md:?}");
        }
    }
}
