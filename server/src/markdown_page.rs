//! A [`Page`] built from Markdown a model wrote (vlm transcription,
//! translation), so every exporter — md, docx tables, csv — works on model
//! output exactly as on OCR output. Models give no positions: every box is
//! the whole page, and the page is marked `source: vlm`.

use ocrchat_engine::{BBox, Block, BlockKind, Line, Page, PageSource, Word};

/// Models report no confidence; their pages carry this value (see `source`).
const MODEL_CONFIDENCE: f32 = 1.0;

/// Parses GitHub-flavoured Markdown into blocks: `#` headings, list items,
/// pipe tables and paragraphs.
pub fn page_from_markdown(index: usize, width: u32, height: u32, markdown: &str) -> Page {
    let bbox: BBox = [0, 0, width, height];
    let mut blocks = Vec::new();
    let mut paragraph: Vec<String> = Vec::new();
    let mut table: Vec<Vec<String>> = Vec::new();
    let flush_paragraph = |paragraph: &mut Vec<String>, blocks: &mut Vec<Block>| {
        if !paragraph.is_empty() {
            blocks.push(block(BlockKind::Paragraph, std::mem::take(paragraph), None, bbox));
        }
    };
    let flush_table = |table: &mut Vec<Vec<String>>, blocks: &mut Vec<Block>| {
        if !table.is_empty() {
            let rows = std::mem::take(table);
            let lines = rows.iter().map(|r| r.join("\t")).collect();
            blocks.push(block(BlockKind::Table, lines, Some(rows), bbox));
        }
    };
    for raw in markdown.lines() {
        let line = raw.trim();
        if line.starts_with('|') {
            flush_paragraph(&mut paragraph, &mut blocks);
            let cells: Vec<String> = line.trim_matches('|').split('|').map(|c| c.trim().to_string()).collect();
            // The header separator row (|---|:---:|) carries no text.
            if !cells.iter().all(|c| !c.is_empty() && c.chars().all(|ch| matches!(ch, '-' | ':' | ' '))) {
                table.push(cells);
            }
            continue;
        }
        flush_table(&mut table, &mut blocks);
        if line.is_empty() {
            flush_paragraph(&mut paragraph, &mut blocks);
        } else if let Some(heading) = heading_text(line) {
            flush_paragraph(&mut paragraph, &mut blocks);
            blocks.push(block(BlockKind::Heading, vec![heading], None, bbox));
        } else if is_list_item(line) {
            flush_paragraph(&mut paragraph, &mut blocks);
            blocks.push(block(BlockKind::ListItem, vec![line.to_string()], None, bbox));
        } else if line.chars().all(|c| matches!(c, '-' | '*' | '_' | ' ')) && line.len() >= 3 {
            // A thematic break separates blocks and has no text.
            flush_paragraph(&mut paragraph, &mut blocks);
        } else {
            paragraph.push(strip_emphasis(line));
        }
    }
    flush_table(&mut table, &mut blocks);
    flush_paragraph(&mut paragraph, &mut blocks);
    let mut page = Page { index, width, height, rotation: 0, source: PageSource::Vlm, text: String::new(), blocks };
    page.refresh_text();
    page
}

fn heading_text(line: &str) -> Option<String> {
    let hashes = line.chars().take_while(|&c| c == '#').count();
    (1..=6)
        .contains(&hashes)
        .then(|| line[hashes..].trim().trim_end_matches('#').trim().to_string())
        .filter(|t| !t.is_empty())
}

fn is_list_item(line: &str) -> bool {
    if line.starts_with("- ") || line.starts_with("* ") || line.starts_with("+ ") {
        return true;
    }
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    digits > 0 && (line[digits..].starts_with(". ") || line[digits..].starts_with(") "))
}

/// `**bold**` / `__bold__` markers are formatting, not text.
fn strip_emphasis(line: &str) -> String {
    line.replace("**", "").replace("__", "")
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
        assert_eq!(page.source, PageSource::Vlm);
        assert_eq!((page.index, page.blocks[5].bbox), (2, [0, 0, 100, 200]));
        assert!(page.text.starts_with("INVOICE\n\nAcme Corp"));
    }

    #[test]
    fn empty_markdown_is_an_empty_page() {
        let page = page_from_markdown(0, 10, 10, "\n\n");
        assert!(page.blocks.is_empty() && page.text.is_empty());
    }
}
