//! ESC/P2 raster graphics, sans-IO: bitmaps in, bytes out (and back).
//!
//! Per job: `ESC @` (initialise), `ESC ( G 1 0 1` (graphics mode),
//! `ESC ( U 1 0 u` (unit = u/3600 inch, one dot), `ESC ( C 2 0 n` (page
//! length). Per page: every non-blank dot row is one
//! `ESC . 1 v h 1 nL nH <RLE data>` (compression 1, density `v`/`h` in
//! 1/3600 inch, one row), blank rows are skipped with `ESC ( v 2 0 n`
//! (relative vertical move in units), then `CR` and form feed. `ESC @`
//! ends the job. RLE: a counter 0–127 is followed by counter+1 literal
//! bytes, 129–255 by one byte repeated 257−counter times.

use super::raster::Bitmap;

const ESC: u8 = 0x1b;
const FF: u8 = 0x0c;
const CR: u8 = 0x0d;

/// ESC/P2 dot densities are fractions of 3600: these divide it.
pub const DPIS: [u32; 3] = [180, 360, 720];

fn u16le(v: u32) -> [u8; 2] {
    let v = v.min(u32::from(u16::MAX)) as u16;
    v.to_le_bytes()
}

pub fn job_start(dpi: u32, page_height: u32) -> Vec<u8> {
    let unit = (3600 / dpi.max(1)).clamp(1, 255) as u8;
    let mut o = vec![
        ESC, b'@', ESC, b'(', b'G', 1, 0, 1, ESC, b'(', b'U', 1, 0, unit,
    ];
    o.extend_from_slice(&[ESC, b'(', b'C', 2, 0]);
    o.extend_from_slice(&u16le(page_height));
    o
}

pub fn job_end() -> Vec<u8> {
    vec![ESC, b'@']
}

/// ESC/P2 run-length encoding (same scheme as PackBits, no 128).
pub fn rle(row: &[u8], out: &mut Vec<u8>) {
    super::pcl::packbits(row, out);
}

fn advance(o: &mut Vec<u8>, mut rows: u32) {
    while rows > 0 {
        let n = rows.min(u32::from(u16::MAX));
        o.extend_from_slice(&[ESC, b'(', b'v', 2, 0]);
        o.extend_from_slice(&u16le(n));
        rows -= n;
    }
}

/// One page, form feed included.
pub fn page(bm: &Bitmap) -> Vec<u8> {
    let density = (3600 / bm.dpi.max(1)).clamp(1, 255) as u8;
    let mut o = Vec::with_capacity(bm.bits.len() / 8 + 64);
    let mut blank = 0u32;
    let mut buf = Vec::new();
    let [wl, wh] = u16le(bm.width);
    for y in 0..bm.height {
        let row = bm.row(y);
        if row.iter().all(|b| *b == 0) {
            blank += 1;
            continue;
        }
        advance(&mut o, blank);
        blank = 0;
        buf.clear();
        rle(row, &mut buf);
        o.extend_from_slice(&[ESC, b'.', 1, density, density, 1, wl, wh]);
        o.extend_from_slice(&buf);
        o.push(CR);
        // The print head does not move by itself after a raster row.
        advance(&mut o, 1);
    }
    o.push(FF);
    o
}

pub fn encode(pages: &[Bitmap]) -> Vec<u8> {
    let dpi = pages.first().map_or(360, |p| p.dpi);
    let h = pages.first().map_or(0, |p| p.height);
    let mut o = job_start(dpi, h);
    for p in pages {
        o.extend_from_slice(&page(p));
    }
    o.extend_from_slice(&job_end());
    o
}

/// Decodes the subset [`encode`] writes; anything else is an error.
pub fn decode(data: &[u8]) -> Result<Vec<Bitmap>, String> {
    let mut pages = Vec::new();
    let (mut dpi, mut height, mut width) = (360u32, 0u32, 0u32);
    let mut y = 0u32;
    let mut rows: Vec<(u32, Vec<u8>)> = Vec::new();
    let mut i = 0;
    let take = |i: usize, n: usize| -> Result<&[u8], String> {
        data.get(i..i + n)
            .ok_or_else(|| "truncated command".to_string())
    };
    while i < data.len() {
        match data[i] {
            CR => i += 1,
            FF => {
                let mut bm = Bitmap::new(width, height, dpi);
                for (ry, r) in rows.drain(..) {
                    let dst = bm.row_mut(ry);
                    if dst.len() != r.len() {
                        return Err("row outside the page".into());
                    }
                    dst.copy_from_slice(&r);
                }
                pages.push(bm);
                y = 0;
                i += 1;
            }
            ESC => {
                let c = *data.get(i + 1).ok_or("ESC at end")?;
                match c {
                    b'@' => i += 2,
                    b'(' => {
                        let h = take(i + 2, 3)?;
                        let (cmd, len) = (h[0], usize::from(h[1]) | (usize::from(h[2]) << 8));
                        let args = take(i + 5, len)?;
                        i += 5 + len;
                        let arg16 = || -> Result<u32, String> {
                            match args {
                                [l, h, ..] => Ok(u32::from(*l) | (u32::from(*h) << 8)),
                                _ => Err("short argument".into()),
                            }
                        };
                        match cmd {
                            b'G' => {}
                            b'U' => dpi = 3600 / u32::from(*args.first().ok_or("unit")?).max(1),
                            b'C' => height = arg16()?,
                            b'v' => y += arg16()?,
                            other => return Err(format!("unexpected ESC ( {}", other as char)),
                        }
                    }
                    b'.' => {
                        let h = take(i + 2, 6)?;
                        let (comp, band) = (h[0], h[3]);
                        let w = u32::from(h[4]) | (u32::from(h[5]) << 8);
                        if band != 1 {
                            return Err("only single-row bands are written".into());
                        }
                        if !rows.is_empty() && w != width {
                            return Err("raster width changed within a page".into());
                        }
                        width = w;
                        i += 8;
                        let stride = (w as usize).div_ceil(8);
                        let mut row = Vec::with_capacity(stride);
                        match comp {
                            0 => {
                                row.extend_from_slice(take(i, stride)?);
                                i += stride;
                            }
                            1 => {
                                while row.len() < stride {
                                    let c = *data.get(i).ok_or("RLE truncated")?;
                                    i += 1;
                                    if c < 128 {
                                        let n = usize::from(c) + 1;
                                        row.extend_from_slice(take(i, n)?);
                                        i += n;
                                    } else {
                                        let b = *data.get(i).ok_or("RLE truncated")?;
                                        i += 1;
                                        row.extend(std::iter::repeat_n(b, 257 - usize::from(c)));
                                    }
                                }
                                if row.len() != stride {
                                    return Err("RLE overruns the row".into());
                                }
                            }
                            m => return Err(format!("compression {m} not supported")),
                        }
                        if y >= height {
                            return Err("more rows than the page holds".into());
                        }
                        rows.push((y, row));
                    }
                    other => return Err(format!("unexpected ESC {}", other as char)),
                }
            }
            other => return Err(format!("unexpected byte {other:#04x}")),
        }
    }
    if !rows.is_empty() {
        return Err("page without form feed".into());
    }
    Ok(pages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoder_rejects_garbage() {
        assert!(decode(b"\x1b.\x01\x0a\x0a\x01\x08").is_err());
        assert!(decode(b"xyz").is_err());
        assert!(decode(b"\x1b(C\x02").is_err());
        assert!(decode(b"\x1bZ").is_err());
    }
}
