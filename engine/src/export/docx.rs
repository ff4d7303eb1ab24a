//! Word (.docx): headings as `Heading1`/`Heading2` paragraph styles,
//! paragraphs, bulleted list items, tables as real Word tables and a page
//! break between pages, written with the `docx-rs` crate.

use std::io::Cursor;

use docx_rs::{
    AbstractNumbering, BreakType, Docx, IndentLevel, Level, LevelJc, LevelText, NumberFormat, Numbering, NumberingId,
    Paragraph, Run, SpecialIndentType, Start, Style, StyleType, Table, TableCell, TableRow, WidthType,
};

use crate::document::{Block, BlockKind, Document};
use crate::error::{EngineError, Result};

/// Style ids Word and LibreOffice recognise as built-in headings (their
/// `w:name` must be the lower-case built-in name for that).
const HEADING1: &str = "Heading1";
const HEADING2: &str = "Heading2";
/// docx-rs always writes numbering 1 (a decimal list) itself; ours is 2.
const BULLET_NUMBERING: usize = 2;
/// Text width of an A4 page with docx-rs's default margins, in twentieths of
/// a point; table columns share it evenly (OCR gives no column widths we trust).
const TEXT_WIDTH_TWIPS: usize = 9000;
/// Glyphs OCR reads as a list bullet; dropped because Word draws its own.
const BULLETS: &[char] = &['•', '●', '▪', '■', '◦', '○', '·', '‣', '–', '-', '*', '►', '✓'];

fn heading_style(id: &str, name: &str, half_points: usize, outline: usize) -> Style {
    Style::new(id, StyleType::Paragraph)
        .name(name)
        .based_on("Normal")
        .next("Normal")
        .q_format(true)
        .bold()
        .size(half_points)
        .outline_lvl(outline)
}

/// A real bulleted list (Word numbering with a `•` level), so the items stay
/// a list when edited rather than paragraphs that happen to start with `•`.
fn bullet_numbering() -> AbstractNumbering {
    AbstractNumbering::new(BULLET_NUMBERING).add_level(
        Level::new(0, Start::new(1), NumberFormat::new("bullet"), LevelText::new("•"), LevelJc::new("left")).indent(
            Some(720),
            Some(SpecialIndentType::Hanging(360)),
            None,
            None,
        ),
    )
}

/// Lines of a block reflowed into one run of text: OCR line breaks are
/// where the scan wrapped, not where the author did, so they become spaces.
fn reflow(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn text_paragraph(text: &str) -> Paragraph {
    let p = Paragraph::new();
    if text.is_empty() { p } else { p.add_run(Run::new().add_text(text)) }
}

fn table(rows: &[Vec<String>]) -> Table {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let rows = rows
        .iter()
        .map(|row| {
            // Ragged rows are padded: Word requires every row to fill the grid.
            TableRow::new(
                (0..cols)
                    .map(|c| {
                        TableCell::new().add_paragraph(text_paragraph(&reflow(row.get(c).map_or("", String::as_str))))
                    })
                    .collect(),
            )
        })
        .collect();
    Table::new(rows).set_grid(vec![TEXT_WIDTH_TWIPS / cols; cols]).width(TEXT_WIDTH_TWIPS, WidthType::Dxa)
}

fn add_block(docx: Docx, b: &Block, largest_heading: bool) -> Docx {
    match b.kind {
        BlockKind::Heading => {
            let style = if largest_heading { HEADING1 } else { HEADING2 };
            docx.add_paragraph(text_paragraph(&reflow(&b.text)).style(style))
        }
        BlockKind::ListItem => {
            let text = reflow(&b.text);
            // Numbered items keep their own number: renumbering them could
            // disagree with the page (lists that start at 3, "a)", …).
            if text.starts_with(|c: char| c.is_ascii_digit()) {
                docx.add_paragraph(text_paragraph(&text).indent(
                    Some(720),
                    Some(SpecialIndentType::Hanging(360)),
                    None,
                    None,
                ))
            } else {
                let body = text.trim_start_matches(BULLETS).trim_start();
                docx.add_paragraph(
                    text_paragraph(body).numbering(NumberingId::new(BULLET_NUMBERING), IndentLevel::new(0)),
                )
            }
        }
        BlockKind::Table => match &b.table {
            Some(rows) if !rows.is_empty() => {
                // An empty paragraph after the table keeps two adjacent
                // tables from merging into one when Word opens the file.
                docx.add_table(table(rows)).add_paragraph(Paragraph::new())
            }
            _ => b.text.lines().fold(docx, |d, l| d.add_paragraph(text_paragraph(&reflow(l)))),
        },
        BlockKind::Paragraph => docx.add_paragraph(text_paragraph(&reflow(&b.text))),
    }
}

/// Renders the document as a .docx file.
pub fn render(doc: &Document) -> Result<Vec<u8>> {
    let mut docx = Docx::new()
        .add_style(heading_style(HEADING1, "heading 1", 32, 0))
        .add_style(heading_style(HEADING2, "heading 2", 26, 1))
        .add_abstract_numbering(bullet_numbering())
        .add_numbering(Numbering::new(BULLET_NUMBERING, BULLET_NUMBERING));
    for (i, page) in doc.pages.iter().enumerate() {
        if i > 0 {
            // A paragraph of its own so an empty page still gets its break.
            docx = docx.add_paragraph(Paragraph::new().add_run(Run::new().add_break(BreakType::Page)));
        }
        let is_title = super::title_headings(page);
        for b in &page.blocks {
            docx = add_block(docx, b, is_title(b));
        }
    }
    let mut out = Cursor::new(Vec::new());
    docx.build().pack(&mut out).map_err(|e| EngineError::export(crate::ExportFormat::Docx, e))?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;
    use crate::document::Page;

    fn block(kind: BlockKind, text: &str) -> Block {
        Block { kind, text: text.into(), bbox: [0, 0, 10, 10], confidence: 1.0, lines: vec![], table: None }
    }

    fn part(bytes: &[u8], name: &str) -> String {
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).expect("a zip archive");
        let mut s = String::new();
        zip.by_name(name).expect("part present").read_to_string(&mut s).unwrap();
        s
    }

    #[test]
    fn renders_structure() {
        let mut tbl = block(BlockKind::Table, "Item\tPrice\nTea & <cake>\t3,50");
        tbl.table = Some(vec![vec!["Item".into(), "Price".into()], vec!["Tea & <cake>".into(), "3,50".into()]]);
        let mut big = block(BlockKind::Heading, "Annual\nReport");
        big.bbox = [0, 0, 100, 80];
        let page1 = Page {
            blocks: vec![
                big,
                block(BlockKind::Heading, "Summary"),
                block(BlockKind::Paragraph, "First line\nsecond line"),
                block(BlockKind::ListItem, "• apples"),
                block(BlockKind::ListItem, "2. pears"),
                tbl,
            ],
            ..Default::default()
        };
        let page2 = Page { index: 1, blocks: vec![block(BlockKind::Paragraph, "Page two")], ..Default::default() };
        let bytes = render(&Document::from_pages(vec![page1, page2])).unwrap();

        let xml = part(&bytes, "word/document.xml");
        for text in
            ["Annual Report", "Summary", "First line second line", "apples", "2. pears", "Page two", "Item", "3,50"]
        {
            assert!(xml.contains(&format!(">{text}<")), "{text:?} missing from {xml}");
        }
        assert!(xml.contains("Tea &amp; &lt;cake&gt;"), "markup in text is escaped");
        assert!(!xml.contains("• apples"), "the bullet glyph is Word's, not the text's");
        assert!(xml.contains(r#"<w:pStyle w:val="Heading1" />"#) && xml.contains(r#"<w:pStyle w:val="Heading2" />"#));
        assert!(xml.contains(&format!(r#"<w:numId w:val="{BULLET_NUMBERING}" />"#)), "list item is numbered");
        assert_eq!(xml.matches("<w:tbl>").count(), 1);
        assert_eq!(xml.matches("<w:tc>").count(), 4);
        assert_eq!(xml.matches(r#"<w:br w:type="page" />"#).count(), 1);

        let styles = part(&bytes, "word/styles.xml");
        assert!(styles.contains(r#"w:styleId="Heading1""#) && styles.contains(r#"<w:name w:val="heading 1" />"#));
        assert!(styles.contains(r#"w:styleId="Heading2""#));
        let numbering = part(&bytes, "word/numbering.xml");
        assert!(numbering.contains(r#"<w:numFmt w:val="bullet" />"#));
    }

    #[test]
    fn empty_document_is_a_valid_docx_without_text() {
        let bytes = render(&Document::default()).unwrap();
        let xml = part(&bytes, "word/document.xml");
        assert!(xml.contains("<w:body>") || xml.contains("<w:body"), "{xml}");
        assert!(!xml.contains("<w:t>") && !xml.contains("<w:t "), "no text runs: {xml}");
        assert!(!xml.contains("<w:tbl>"));
        assert!(part(&bytes, "[Content_Types].xml").contains("wordprocessingml.document.main+xml"));
    }
}
