//! Markdown: headings, paragraphs, list items and GitHub pipe tables in
//! reading order; pages separated by a thematic break.

use crate::document::{Block, BlockKind, Document};

/// Escapes text that Markdown would otherwise read as syntax at line start.
fn escape_line(line: &str) -> String {
    let t = line.trim_start();
    let needs = t.starts_with(['#', '>', '-', '+', '*', '=', '|', '`'])
        || t.split_once(['.', ')'])
            .is_some_and(|(n, _)| !n.is_empty() && n.len() <= 9 && n.chars().all(|c| c.is_ascii_digit()));
    if needs { format!("\\{t}") } else { t.to_string() }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn render_block(b: &Block, largest: bool) -> String {
    match b.kind {
        BlockKind::Heading => {
            let level = if largest { "#" } else { "##" };
            format!("{level} {}", b.text.lines().map(str::trim).collect::<Vec<_>>().join(" "))
        }
        BlockKind::ListItem => {
            let text = b.text.lines().map(str::trim).collect::<Vec<_>>().join(" ");
            let t = text.trim_start();
            let numbered = t.chars().next().is_some_and(|c| c.is_ascii_digit());
            if numbered {
                t.to_string()
            } else {
                let body = t
                    .trim_start_matches(['•', '●', '▪', '■', '◦', '○', '·', '‣', '–', '-', '*', '►', '✓'])
                    .trim_start();
                format!("- {body}")
            }
        }
        BlockKind::Table => match &b.table {
            Some(rows) if !rows.is_empty() => {
                let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
                let mut out = String::new();
                for (i, row) in rows.iter().enumerate() {
                    let cells: Vec<String> = (0..cols).map(|c| cell(row.get(c).map_or("", String::as_str))).collect();
                    out.push_str(&format!("| {} |\n", cells.join(" | ")));
                    if i == 0 {
                        out.push_str(&format!("|{}\n", " --- |".repeat(cols)));
                    }
                }
                out.trim_end().to_string()
            }
            _ => b.text.lines().map(escape_line).collect::<Vec<_>>().join("\n"),
        },
        BlockKind::Paragraph => {
            b.text.lines().map(|l| escape_line(&l.replace('\t', " "))).collect::<Vec<_>>().join("\n")
        }
    }
}

/// Renders the document as Markdown.
pub fn render(doc: &Document) -> String {
    let pages: Vec<String> = doc
        .pages
        .iter()
        .map(|p| {
            let is_title = super::title_headings(p);
            p.blocks.iter().map(|b| render_block(b, is_title(b))).collect::<Vec<_>>().join("\n\n")
        })
        .collect();
    let mut out = pages.join("\n\n---\n\n");
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Page;

    fn block(kind: BlockKind, text: &str) -> Block {
        Block { kind, text: text.into(), bbox: [0, 0, 10, 10], confidence: 1.0, lines: vec![], table: None }
    }

    #[test]
    fn renders_structure() {
        let mut table = block(BlockKind::Table, "a\tb\n1|2\t3");
        table.table = Some(vec![vec!["a".into(), "b".into()], vec!["1|2".into(), "3".into()]]);
        let page = Page {
            blocks: vec![
                block(BlockKind::Heading, "Report"),
                block(BlockKind::Paragraph, "Line one\n# not a heading"),
                block(BlockKind::ListItem, "• first item"),
                block(BlockKind::ListItem, "2. second"),
                table,
            ],
            ..Default::default()
        };
        let doc = Document::from_pages(vec![page.clone(), page]);
        let md = render(&doc);
        let first = md.split("\n\n---\n\n").next().unwrap();
        assert_eq!(
            first,
            "# Report\n\nLine one\n\\# not a heading\n\n- first item\n\n2. second\n\n| a | b |\n| --- | --- |\n| 1\\|2 | 3 |"
        );
        assert_eq!(md.matches("\n---\n").count(), 1);
    }
}
