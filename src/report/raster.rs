//! Pages to pixels: the UI preview (PNG) and 1-bit bitmaps for printers.

use super::ReportError;
use typst::layout::Abs;
use typst_layout::PagedDocument;

/// PNG of page `page` (from 1), `width_px` wide.
pub fn preview_png(
    doc: &PagedDocument,
    page: usize,
    width_px: u32,
) -> Result<Vec<u8>, ReportError> {
    let p = page
        .checked_sub(1)
        .and_then(|i| doc.pages().get(i))
        .ok_or(ReportError::NoPage(page))?;
    let w_pt = p.frame.width().to_pt().max(1.0);
    let ppp = f64::from(width_px.clamp(16, 4000)) / w_pt;
    let _ = Abs::zero();
    let pix = typst_render::render(
        p,
        &typst_render::RenderOptions {
            pixel_per_pt: ppp.into(),
            render_bleed: false,
        },
    );
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, pix.width(), pix.height());
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc
            .write_header()
            .map_err(|e| ReportError::Image(e.to_string()))?;
        w.write_image_data(pix.data())
            .map_err(|e| ReportError::Image(e.to_string()))?;
    }
    Ok(out)
}
