//! Pages to pixels: the UI preview (PNG) and 1-bit bitmaps for printers.

use super::ReportError;
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

/// A 1-bit page: rows packed MSB first, 1 = black (ink).
#[derive(Clone, PartialEq, Eq)]
pub struct Bitmap {
    pub width: u32,
    pub height: u32,
    pub dpi: u32,
    pub bits: Vec<u8>,
}

impl std::fmt::Debug for Bitmap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Bitmap({}x{} @ {} dpi)",
            self.width, self.height, self.dpi
        )
    }
}

impl Bitmap {
    pub fn new(width: u32, height: u32, dpi: u32) -> Bitmap {
        let stride = (width as usize).div_ceil(8);
        Bitmap {
            width,
            height,
            dpi,
            bits: vec![0; stride * height as usize],
        }
    }

    pub fn stride(&self) -> usize {
        (self.width as usize).div_ceil(8)
    }

    pub fn row(&self, y: u32) -> &[u8] {
        let s = self.stride();
        let a = (y as usize) * s;
        self.bits.get(a..a + s).unwrap_or(&[])
    }

    pub fn row_mut(&mut self, y: u32) -> &mut [u8] {
        let s = self.stride();
        let a = (y as usize) * s;
        self.bits.get_mut(a..a + s).unwrap_or(&mut [])
    }

    pub fn get(&self, x: u32, y: u32) -> bool {
        x < self.width
            && self
                .row(y)
                .get((x / 8) as usize)
                .is_some_and(|b| b & (0x80 >> (x % 8)) != 0)
    }

    pub fn set(&mut self, x: u32, y: u32, on: bool) {
        if x >= self.width {
            return;
        }
        if let Some(b) = self.row_mut(y).get_mut((x / 8) as usize) {
            if on {
                *b |= 0x80 >> (x % 8);
            } else {
                *b &= !(0x80 >> (x % 8));
            }
        }
    }

    /// Number of black dots.
    pub fn ink(&self) -> usize {
        self.bits.iter().map(|b| b.count_ones() as usize).sum()
    }
}

/// 4×4 Bayer matrix: grey (grid lines, light text) becomes a dot pattern
/// instead of vanishing or turning solid.
const BAYER: [[u16; 4]; 4] = [[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]];

/// Page `page` (from 1) as a 1-bit bitmap at `dpi`, ordered-dithered.
pub fn page_bitmap(doc: &PagedDocument, page: usize, dpi: u32) -> Result<Bitmap, ReportError> {
    let p = page
        .checked_sub(1)
        .and_then(|i| doc.pages().get(i))
        .ok_or(ReportError::NoPage(page))?;
    let dpi = dpi.clamp(50, 1200);
    let pix = typst_render::render(
        p,
        &typst_render::RenderOptions {
            pixel_per_pt: (f64::from(dpi) / 72.0).into(),
            render_bleed: false,
        },
    );
    let (w, h) = (pix.width(), pix.height());
    let mut bm = Bitmap::new(w, h, dpi);
    let data = pix.data();
    for y in 0..h {
        for x in 0..w {
            let i = ((y * w + x) * 4) as usize;
            let Some(px) = data.get(i..i + 4) else {
                continue;
            };
            // Premultiplied RGBA on white: transparent counts as white.
            let a = u16::from(px[3]);
            let lum =
                (299 * u32::from(px[0]) + 587 * u32::from(px[1]) + 114 * u32::from(px[2])) / 1000;
            let lum = lum as u16 + (255 - a);
            let t = BAYER[(y % 4) as usize][(x % 4) as usize] * 16 + 8;
            if lum < t {
                bm.set(x, y, true);
            }
        }
    }
    Ok(bm)
}
