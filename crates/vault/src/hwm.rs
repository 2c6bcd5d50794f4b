//! The high-water mark: the last acknowledged journal row of every mission,
//! kept in a file of its own beside the database (`vault.hwm`).
//!
//! SQLite opens a database whose write-ahead log was cut short (media
//! damage, a copy that stopped early) as clean: the frames after the last
//! complete commit are gone without a word. The mark lives outside the WAL,
//! so the same damage cannot take it along; at open every mission's rows
//! are compared with it and a gap is reported, never hidden.
//!
//! Order of writes: the row's transaction commits first, then the mark is
//! appended and synced, then `append` returns `Ok`. A crash in between
//! leaves the mark behind the rows (harmless), never ahead of them, so a
//! reported gap is always a lost acknowledged row.
//!
//! The file holds mission ids, seq numbers and the last 16 bytes of each
//! sealed row (its GCM tag): no plaintext, no key material.
//!
//! Format: an 8-byte magic, then fixed records of 44 bytes: mission id (16),
//! seq (u64 BE; `u64::MAX` = mission deleted), tag (16), and the first 4
//! bytes of the SHA-256 of the 40 bytes before (a torn or damaged record is
//! skipped). The file only grows by appends; past [`COMPACT_AT`] it is
//! rewritten with one record per mission (temporary file, sync, rename).

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use uuid::Uuid;

/// The file beside `vault.sqlite`.
pub const HWM_FILE: &str = "vault.hwm";
const MAGIC: &[u8; 8] = b"RPHWM\0\0\x01";
const REC_LEN: usize = 44;
const DELETED: u64 = u64::MAX;
/// Rewrite the file with one record per mission past this size.
const COMPACT_AT: u64 = 256 * 1024;

/// The last acknowledged row of a mission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    pub seq: u64,
    /// The row's GCM tag: tells the acknowledged row from another one with
    /// the same seq.
    pub tag: [u8; 16],
}

/// How the file was found at open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// Read; `skipped` records failed their checksum (a torn last write or
    /// damage) and were ignored.
    Read { skipped: usize },
    /// No file (a new vault, or one from before the mark existed).
    Missing,
    /// Not a mark file (wrong magic): set aside, rebuilt.
    Damaged,
}

pub(crate) struct HighWater {
    path: PathBuf,
    file: File,
    len: u64,
    marks: HashMap<Uuid, Mark>,
}

fn checksum(body: &[u8]) -> [u8; 4] {
    let h = rettpad_crypto::sha256(body);
    [h[0], h[1], h[2], h[3]]
}

fn encode(mission: &Uuid, seq: u64, tag: &[u8; 16]) -> [u8; REC_LEN] {
    let mut r = [0u8; REC_LEN];
    r[..16].copy_from_slice(mission.as_bytes());
    r[16..24].copy_from_slice(&seq.to_be_bytes());
    r[24..40].copy_from_slice(tag);
    let c = checksum(&r[..40]);
    r[40..].copy_from_slice(&c);
    r
}

/// The tag a mark keeps for a sealed row (its last 16 bytes).
pub(crate) fn tag_of(sealed: &[u8]) -> [u8; 16] {
    let mut t = [0u8; 16];
    let n = sealed.len().min(16);
    t[16 - n..].copy_from_slice(&sealed[sealed.len() - n..]);
    t
}

/// Parses a mark file; `None` when the magic is wrong.
fn parse(bytes: &[u8]) -> Option<(HashMap<Uuid, Mark>, usize)> {
    let body = bytes.strip_prefix(MAGIC.as_slice())?;
    let mut marks = HashMap::new();
    let mut skipped = 0;
    let chunks = body.chunks(REC_LEN);
    for r in chunks {
        if r.len() != REC_LEN || checksum(&r[..40]) != r[40..] {
            skipped += 1;
            continue;
        }
        let mut id = [0u8; 16];
        id.copy_from_slice(&r[..16]);
        let mission = Uuid::from_bytes(id);
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&r[16..24]);
        let seq = u64::from_be_bytes(seq);
        if seq == DELETED {
            marks.remove(&mission);
            continue;
        }
        let mut tag = [0u8; 16];
        tag.copy_from_slice(&r[24..40]);
        // The last record wins: after a reported loss the mark is set back
        // to what the database holds.
        marks.insert(mission, Mark { seq, tag });
    }
    Some((marks, skipped))
}

fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) => File::open(dir)?.sync_all(),
        None => Ok(()),
    }
}

/// Writes `marks` as a fresh file at `path` (temporary file, sync, rename,
/// directory sync): a crash leaves the old file or the new one.
fn write_whole(path: &Path, marks: &HashMap<Uuid, Mark>) -> io::Result<File> {
    let tmp = path.with_extension("hwm.tmp");
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        let mut buf = Vec::with_capacity(MAGIC.len() + marks.len() * REC_LEN);
        buf.extend_from_slice(MAGIC);
        for (id, m) in marks {
            buf.extend_from_slice(&encode(id, m.seq, &m.tag));
        }
        f.write_all(&buf)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    sync_parent(path)?;
    OpenOptions::new().append(true).open(path)
}

impl HighWater {
    /// Opens the mark file in `dir`. A missing or damaged file is rebuilt
    /// from `current` (what the database holds now): from then on losses
    /// are detected again, earlier ones cannot be.
    pub(crate) fn open(
        dir: &Path,
        current: impl FnOnce() -> HashMap<Uuid, Mark>,
    ) -> io::Result<(HighWater, Found)> {
        let path = dir.join(HWM_FILE);
        let found = match fs::read(&path) {
            Ok(bytes) => match parse(&bytes) {
                Some((marks, skipped)) => {
                    let file = OpenOptions::new().append(true).open(&path)?;
                    let hw = HighWater {
                        len: bytes.len() as u64,
                        path,
                        file,
                        marks,
                    };
                    return Ok((hw, Found::Read { skipped }));
                }
                None => Found::Damaged,
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => Found::Missing,
            Err(e) => return Err(e),
        };
        if found == Found::Damaged {
            // Kept for inspection; never read again.
            let _ = fs::rename(&path, path.with_extension("hwm.damaged"));
        }
        let marks = current();
        let file = write_whole(&path, &marks)?;
        let len = (MAGIC.len() + marks.len() * REC_LEN) as u64;
        Ok((
            HighWater {
                path,
                file,
                len,
                marks,
            },
            found,
        ))
    }

    pub(crate) fn marks(&self) -> &HashMap<Uuid, Mark> {
        &self.marks
    }

    /// Makes `seq` (with the row's tag) the mission's mark; durable when it
    /// returns `Ok`.
    pub(crate) fn record(&mut self, mission: Uuid, seq: u64, tag: [u8; 16]) -> io::Result<()> {
        self.append(&encode(&mission, seq, &tag))?;
        self.marks.insert(mission, Mark { seq, tag });
        Ok(())
    }

    /// The mission is gone on purpose (deleted after upload).
    pub(crate) fn forget(&mut self, mission: Uuid) -> io::Result<()> {
        if self.marks.remove(&mission).is_some() {
            self.append(&encode(&mission, DELETED, &[0; 16]))?;
        }
        Ok(())
    }

    fn append(&mut self, rec: &[u8; REC_LEN]) -> io::Result<()> {
        if self.len + REC_LEN as u64 > COMPACT_AT {
            self.file = write_whole(&self.path, &self.marks)?;
            self.len = (MAGIC.len() + self.marks.len() * REC_LEN) as u64;
        }
        self.file.write_all(rec)?;
        self.file.sync_data()?;
        self.len += REC_LEN as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn marks_survive_reopen_and_the_last_record_wins() {
        let dir = tempfile::tempdir().unwrap();
        let (mut hw, found) = HighWater::open(dir.path(), HashMap::new).unwrap();
        assert_eq!(found, Found::Missing);
        hw.record(id(1), 5, [5; 16]).unwrap();
        hw.record(id(1), 8, [8; 16]).unwrap();
        hw.record(id(1), 7, [7; 16]).unwrap();
        hw.record(id(2), 1, [1; 16]).unwrap();
        hw.forget(id(2)).unwrap();
        drop(hw);
        let (hw, found) = HighWater::open(dir.path(), || panic!("not rebuilt")).unwrap();
        assert_eq!(found, Found::Read { skipped: 0 });
        assert_eq!(hw.marks().len(), 1);
        assert_eq!(
            hw.marks()[&id(1)],
            Mark {
                seq: 7,
                tag: [7; 16]
            }
        );
        let mode = fs::metadata(dir.path().join(HWM_FILE)).unwrap();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
            0o600
        );
    }

    #[test]
    fn a_torn_or_flipped_record_is_skipped_and_a_foreign_file_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(HWM_FILE);
        let (mut hw, _) = HighWater::open(dir.path(), HashMap::new).unwrap();
        hw.record(id(1), 3, [3; 16]).unwrap();
        hw.record(id(1), 4, [4; 16]).unwrap();
        drop(hw);
        // A torn last record and a flipped byte in the one before it.
        let mut bytes = fs::read(&path).unwrap();
        bytes.extend_from_slice(&[9; 20]);
        let second = MAGIC.len() + REC_LEN + 20;
        bytes[second] ^= 1;
        fs::write(&path, &bytes).unwrap();
        let (hw, found) = HighWater::open(dir.path(), || panic!("not rebuilt")).unwrap();
        assert_eq!(found, Found::Read { skipped: 2 });
        assert_eq!(hw.marks()[&id(1)].seq, 3);
        drop(hw);
        fs::write(&path, b"not a mark file").unwrap();
        let (hw, found) = HighWater::open(dir.path(), || {
            HashMap::from([(
                id(9),
                Mark {
                    seq: 2,
                    tag: [2; 16],
                },
            )])
        })
        .unwrap();
        assert_eq!(found, Found::Damaged);
        assert_eq!(hw.marks()[&id(9)].seq, 2);
        assert!(dir.path().join("vault.hwm.damaged").exists());
    }

    #[test]
    fn compaction_keeps_one_record_per_mission() {
        let dir = tempfile::tempdir().unwrap();
        let (mut hw, _) = HighWater::open(dir.path(), HashMap::new).unwrap();
        let n = COMPACT_AT / REC_LEN as u64 + 10;
        for seq in 1..=n {
            hw.record(id(seq as u128 % 3), seq, [1; 16]).unwrap();
        }
        drop(hw);
        let len = fs::metadata(dir.path().join(HWM_FILE)).unwrap().len();
        assert!(len < COMPACT_AT, "compacted: {len} bytes");
        let (hw, _) = HighWater::open(dir.path(), || panic!("not rebuilt")).unwrap();
        assert_eq!(hw.marks().len(), 3);
        assert_eq!(hw.marks().values().map(|m| m.seq).max(), Some(n));
    }

    #[test]
    fn tag_of_short_input_does_not_panic() {
        assert_eq!(tag_of(&[]), [0; 16]);
        assert_eq!(tag_of(&[1, 2])[14..], [1, 2]);
    }
}
