//! Markdown a model wrote (vlm transcription, translation) → a [`Page`] of
//! typed blocks, so every exporter — md, docx tables, csv — works on model
//! output exactly as on OCR output. The one parser of model Markdown: a real
//! CommonMark + GFM parser (pulldown-cmark) does the work, so escapes,
//! emphasis, links, nested lists and tables come out right; the HTML tables
//! some VLMs emit become table blocks too.
//!
//! Models give no positions: every box is the whole page, and the page is
//! marked `source: vlm`. Its text follows the engine's conventions (blocks
//! separated by a blank line, table cells by a tab).

use ocrchat_engine::{BBox, Block, BlockKind, Line, Page, PageSource, Word};
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// Models report no confidence; their pages carry this value (see `source`).
const MODEL_CONFIDENCE: f32 = 1.0;

/// Parses GitHub-flavoured Markdown into a page of blocks: headings,
/// paragraphs, list items (`- ` for bullets, `N. ` kept for numbered ones)
/// and tables.
pub fn page_from_markdown(index: usize, width: u32, height: u32, markdown: &str) -> Page {
    let bbox: BBox = [0, 0, width, height];
    let blocks = parse(markdown).into_iter().filter_map(|b| b.into_block(bbox)).collect();
    let mut page = Page { index, width, height, rotation: 0, source: PageSource::Vlm, text: String::new(), blocks };
    page.refresh_text();
    page
}

/// Plain text of a Markdown transcription: the text of
/// [`page_from_markdown`]'s page.
pub fn markdown_to_text(markdown: &str) -> String {
    page_from_markdown(0, 0, 0, markdown).text
}

/// A block while it is being read.
struct Draft {
    kind: BlockKind,
    lines: Vec<String>,
    rows: Vec<Vec<String>>,
    /// Nothing but a list marker yet: a paragraph start breaks no line.
    fresh: bool,
}

impl Draft {
    fn new(kind: BlockKind) -> Self {
        Draft { kind, lines: vec![String::new()], rows: Vec::new(), fresh: true }
    }

    fn push(&mut self, text: &str) {
        self.fresh = false;
        // Text with line breaks (code blocks, display math) keeps them.
        let mut parts = text.split('\n');
        if let (Some(first), Some(line)) = (parts.next(), self.lines.last_mut()) {
            line.push_str(first);
        }
        for part in parts {
            self.lines.push(part.to_string());
        }
    }

    fn line_break(&mut self) {
        if !self.fresh && self.lines.last().is_some_and(|l| !l.trim().is_empty()) {
            self.lines.push(String::new());
        }
    }

    fn into_block(self, bbox: BBox) -> Option<Block> {
        let (lines, table) = if self.kind == BlockKind::Table {
            let rows: Vec<Vec<String>> = self.rows.into_iter().filter(|r| r.iter().any(|c| !c.is_empty())).collect();
            (rows.iter().map(|r| r.join("\t")).collect(), Some(rows))
        } else {
            let lines = self.lines.iter().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "));
            (lines.filter(|l| !l.is_empty()).collect::<Vec<_>>(), None)
        };
        if lines.is_empty() {
            return None;
        }
        Some(block(self.kind, lines, table, bbox))
    }
}

/// Reads the event stream into drafts.
fn parse(markdown: &str) -> Vec<Draft> {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_MATH | Options::ENABLE_TASKLISTS;
    let mut done: Vec<Draft> = Vec::new();
    let mut open: Option<Draft> = None;
    // Ordered-list counters, one per open list (`None` for bullet lists).
    let mut lists: Vec<Option<u64>> = Vec::new();
    let mut cell: Option<String> = None;
    let mut row: Vec<String> = Vec::new();
    let mut html: Option<String> = None;
    let flush = |open: &mut Option<Draft>, done: &mut Vec<Draft>| done.extend(open.take());
    for event in Parser::new_ext(markdown, options) {
        match event {
            Event::Start(tag) => match tag {
                Tag::Heading { .. } => {
                    flush(&mut open, &mut done);
                    open = Some(Draft::new(BlockKind::Heading));
                }
                Tag::Paragraph | Tag::CodeBlock(_) => match &mut open {
                    // A list item's paragraphs continue the item.
                    Some(d) if d.kind == BlockKind::ListItem => d.line_break(),
                    _ => {
                        flush(&mut open, &mut done);
                        open = Some(Draft::new(BlockKind::Paragraph));
                    }
                },
                Tag::List(start) => lists.push(start),
                Tag::Item => {
                    // A nested list's item ends the outer item's block.
                    flush(&mut open, &mut done);
                    let mut item = Draft::new(BlockKind::ListItem);
                    // Numbers carry meaning (steps, clauses); bullets are normalised.
                    match lists.last_mut() {
                        Some(Some(n)) => {
                            item.push(&format!("{n}. "));
                            *n += 1;
                        }
                        _ => item.push("- "),
                    }
                    item.fresh = true;
                    open = Some(item);
                }
                Tag::Table(_) => {
                    flush(&mut open, &mut done);
                    open = Some(Draft::new(BlockKind::Table));
                }
                Tag::TableCell => cell = Some(String::new()),
                Tag::HtmlBlock => {
                    flush(&mut open, &mut done);
                    html = Some(String::new());
                }
                _ => {}
            },
            Event::End(tag) => match tag {
                TagEnd::Heading(_) | TagEnd::Item | TagEnd::Table => flush(&mut open, &mut done),
                TagEnd::Paragraph | TagEnd::CodeBlock if lists.is_empty() => flush(&mut open, &mut done),
                TagEnd::List(_) => {
                    lists.pop();
                }
                TagEnd::HtmlBlock => html_block(&html.take().unwrap_or_default(), &mut done),
                TagEnd::TableCell => row.push(cell.take().unwrap_or_default().trim().to_string()),
                TagEnd::TableHead | TagEnd::TableRow => {
                    if let Some(d) = &mut open {
                        d.rows.push(std::mem::take(&mut row));
                    }
                }
                _ => {}
            },
            Event::Text(t) | Event::Code(t) | Event::InlineMath(t) => match &mut cell {
                Some(c) => c.push_str(&t),
                None => text_target(&mut open, &mut done).push(&t),
            },
            Event::DisplayMath(t) => {
                let d = text_target(&mut open, &mut done);
                d.line_break();
                d.push(t.trim());
                d.line_break();
            }
            Event::SoftBreak | Event::HardBreak => match &mut cell {
                Some(c) => c.push(' '),
                None => text_target(&mut open, &mut done).line_break(),
            },
            // An HTML block, line by line: read whole at its end.
            Event::Html(h) => html.get_or_insert_with(String::new).push_str(&h),
            Event::InlineHtml(h) => {
                if is_tag(&h, "br") {
                    match &mut cell {
                        Some(c) => c.push(' '),
                        None => text_target(&mut open, &mut done).line_break(),
                    }
                }
            }
            Event::Rule => flush(&mut open, &mut done),
            Event::TaskListMarker(checked) => {
                text_target(&mut open, &mut done).push(if checked { "[x] " } else { "[ ] " })
            }
            Event::FootnoteReference(r) => text_target(&mut open, &mut done).push(&format!("[{r}]")),
        }
    }
    flush(&mut open, &mut done);
    done
}

/// The open block, or a new paragraph for text outside any (HTML leftovers).
fn text_target<'a>(open: &'a mut Option<Draft>, done: &mut Vec<Draft>) -> &'a mut Draft {
    if open.as_ref().is_some_and(|d| d.kind == BlockKind::Table) {
        done.extend(open.take());
    }
    open.get_or_insert_with(|| Draft::new(BlockKind::Paragraph))
}

fn is_tag(html: &str, name: &str) -> bool {
    let t = html.trim().trim_start_matches('<').trim_start_matches('/').to_ascii_lowercase();
    t.starts_with(name) && !t[name.len()..].starts_with(|c: char| c.is_ascii_alphanumeric())
}

/// Flattens an HTML block: table rows and cells become a table, other tags
/// are dropped (block-level ones break lines), the common entities decoded.
fn html_block(html: &str, done: &mut Vec<Draft>) {
    let mut text = Draft::new(BlockKind::Paragraph);
    let mut table = Draft::new(BlockKind::Table);
    let mut cell: Option<String> = None;
    let mut row: Vec<String> = Vec::new();
    let mut rest = html;
    let push = |s: &str, cell: &mut Option<String>, text: &mut Draft| {
        let s = decode_entities(s);
        match cell {
            Some(c) => c.push_str(&s),
            None if s.trim().is_empty() => {}
            None => text.push(&s),
        }
    };
    while let Some(lt) = rest.find('<') {
        push(&rest[..lt], &mut cell, &mut text);
        let Some(gt) = rest[lt..].find('>') else {
            // A lone '<' is text, not a tag.
            break;
        };
        let tag = rest[lt + 1..lt + gt].trim().to_ascii_lowercase();
        let name: String = tag.trim_start_matches('/').chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        let closing = tag.starts_with('/');
        match (name.as_str(), closing) {
            ("td" | "th", false) => cell = Some(String::new()),
            ("td" | "th", true) => {
                let c = cell.take().unwrap_or_default();
                row.push(c.split_whitespace().collect::<Vec<_>>().join(" "));
            }
            ("tr", true) => table.rows.push(std::mem::take(&mut row)),
            ("br", _) => match &mut cell {
                Some(c) => c.push(' '),
                None => text.line_break(),
            },
            ("p" | "div" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "li", true) => text.line_break(),
            _ => {}
        }
        rest = &rest[lt + gt + 1..];
    }
    push(rest, &mut cell, &mut text);
    done.push(text);
    done.push(table);
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

fn block(kind: BlockKind, lines: Vec<String>, table: Option<Vec<Vec<String>>>, bbox: BBox) -> Block {
    let lines: Vec<Line> = lines
        .into_iter()
        .map(|text| Line {
            words: text
                .split_whitespace()
                .map(|w| Word { text: w.to_string(), bbox, confidence: MODEL_CONFIDENCE })
                .collect(),
            text,
            bbox,
            confidence: MODEL_CONFIDENCE,
        })
        .collect();
    let text = lines.iter().map(|l| l.text.as_str()).collect::<Vec<_>>().join("\n");
    Block { kind, text, bbox, confidence: MODEL_CONFIDENCE, lines, table }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_typed_blocks() {
        let md = "# INVOICE\n\n**Acme Corp**\nMain St 1\n\n| Item | Price |\n|---|---:|\n| Tea | 4.00 |\n\n- one\n- two\n\n---\nTotal: 4.00";
        let page = page_from_markdown(2, 100, 200, md);
        let kinds: Vec<BlockKind> = page.blocks.iter().map(|b| b.kind).collect();
        assert_eq!(
            kinds,
            [
                BlockKind::Heading,
                BlockKind::Paragraph,
                BlockKind::Table,
                BlockKind::ListItem,
                BlockKind::ListItem,
                BlockKind::Paragraph
            ]
        );
        assert_eq!(page.blocks[0].text, "INVOICE");
        assert_eq!(page.blocks[1].text, "Acme Corp\nMain St 1");
        assert_eq!(page.blocks[2].table.as_ref().unwrap(), &[vec!["Item", "Price"], vec!["Tea", "4.00"]]);
        assert_eq!(page.blocks[2].text, "Item\tPrice\nTea\t4.00");
        assert_eq!((page.blocks[3].text.as_str(), page.blocks[4].text.as_str()), ("- one", "- two"));
        assert_eq!(page.source, PageSource::Vlm);
        assert_eq!((page.index, page.blocks[5].bbox), (2, [0, 0, 100, 200]));
        assert!(page.text.starts_with("INVOICE\n\nAcme Corp"));
    }

    #[test]
    fn empty_markdown_is_an_empty_page() {
        let page = page_from_markdown(0, 10, 10, "\n\n");
        assert!(page.blocks.is_empty() && page.text.is_empty());
    }

    #[test]
    fn markdown_becomes_engine_style_text() {
        let cases: &[(&str, &str)] = &[
            ("", ""),
            ("plain", "plain"),
            ("# Title\n\nFirst line\nsecond line", "Title\n\nFirst line\nsecond line"),
            ("## Sub ##", "Sub"),
            ("**Acme** _Corp_ `x=1` \\*not emphasis\\*", "Acme Corp x=1 *not emphasis*"),
            ("[the site](http://x.invalid) and ![a logo](l.png)", "the site and a logo"),
            ("- one\n- two\n\nafter", "- one\n\n- two\n\nafter"),
            ("* star\n+ plus", "- star\n\n- plus"),
            ("1. first\n2. second", "1. first\n\n2. second"),
            ("3. c\n4. d", "3. c\n\n4. d"),
            ("- [x] done\n- [ ] todo", "- [x] done\n\n- [ ] todo"),
            ("- outer\n  - inner", "- outer\n\n- inner"),
            ("- item\n\n  more of it", "- item\nmore of it"),
            ("> quoted *text*", "quoted text"),
            ("a\n\n---\n\nb", "a\n\nb"),
            (
                "Before\n\n| Item | Price |\n|---|---:|\n| Tea | 2.50 |\n| Cake | |\n\nAfter",
                "Before\n\nItem\tPrice\nTea\t2.50\nCake\t\n\nAfter",
            ),
            ("| a \\| b | c |\n|-|-|\n| 1 | 2 |", "a | b\tc\n1\t2"),
            ("Energy $E=mc^2$ here\n\n$$\\int_0^1 x\\,dx$$", "Energy E=mc^2 here\n\n\\int_0^1 x\\,dx"),
            ("line one<br>line two", "line one\nline two"),
            (
                "<table><tr><th>Item</th><th>Qty</th></tr><tr><td>Tea &amp; milk</td><td>2</td></tr></table>\n\nEnd",
                "Item\tQty\nTea & milk\t2\n\nEnd",
            ),
            ("```\ncode  block\n```", "code block"),
            ("Ünïcödé 中文 text", "Ünïcödé 中文 text"),
            ("a < b and c > d", "a < b and c > d"),
        ];
        for &(md, want) in cases {
            assert_eq!(markdown_to_text(md), want, "markdown: {md:?}");
        }
    }

    #[test]
    fn html_tables_become_table_blocks() {
        let page = page_from_markdown(0, 1, 1, "<table>\n<tr><td>a</td><td>b</td></tr>\n</table>");
        assert_eq!(page.blocks.len(), 1);
        assert_eq!(page.blocks[0].kind, BlockKind::Table);
        assert_eq!(page.blocks[0].table.as_ref().unwrap(), &[vec!["a", "b"]]);
    }
}
