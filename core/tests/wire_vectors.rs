//! The sync-socket codecs against bytes written by the original Go code
//! (`shared/vectors/frames` and `shared/vectors/udata`), and against the malformed
//! inputs the original panics on or silently accepts.

mod common;

use base64::Engine;
use bytes::Bytes;
use common::{ManifestRecord, manifest, vectors};
use modsynclog_core::ErrorKind;
use modsynclog_core::wire::{
    CTYPE_BATCH, CTYPE_HEARTBEAT, CTYPE_HELLO, CTYPE_REQUEST, DEFAULT_SEND_FLAG, Frame, FrameHeader, FrameLimits,
    HEADER_LEN, HELLO_FROM_CLIENT, HELLO_FROM_SERVER, SyncRequest, WireRecord, check_header, decode_batch, decode_body,
    encode_batch, encode_frame, read_frame,
};

/// One entry of `frames-manifest.json`, with its file's bytes.
struct FrameVector {
    file: String,
    send_flag: i32,
    zlib: bool,
    ctype: i32,
    content: Vec<u8>,
    content_length: i32,
    body_length: i32,
    header: Vec<u8>,
    bytes: Vec<u8>,
}

fn json(path: &str) -> serde_json::Value {
    let path = vectors().join(path);
    serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

fn frame_vectors() -> Vec<FrameVector> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let list = json("frames/frames-manifest.json");
    let vectors: Vec<FrameVector> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let file = f["file"].as_str().unwrap().to_string();
            let int = |k: &str| i32::try_from(f[k].as_i64().unwrap()).unwrap();
            let hex = f["header_hex"].as_str().unwrap();
            FrameVector {
                bytes: std::fs::read(vectors().join("frames").join(&file)).unwrap(),
                file,
                send_flag: int("send_flag"),
                zlib: int("zlib") == 1,
                ctype: int("ctype"),
                content: b64.decode(f["content_b64"].as_str().unwrap()).unwrap(),
                content_length: int("content_length"),
                body_length: int("content_tran_length"),
                header: (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect(),
            }
        })
        .collect();
    assert_eq!(vectors.len(), 9, "frames-manifest.json should list nine frames");
    vectors
}

fn header_of(bytes: &[u8]) -> FrameHeader {
    FrameHeader::decode(bytes[..HEADER_LEN].try_into().unwrap()).unwrap()
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
}

fn read_one(bytes: &[u8], send_flag: i32) -> modsynclog_core::Result<Frame> {
    block_on(read_frame(&mut &bytes[..], send_flag, &FrameLimits::default()))
}

fn wire_record(r: &ManifestRecord) -> WireRecord {
    WireRecord {
        date: r.date,
        time: r.time,
        id: r.id,
        data_file_index: r.data_file_index,
        data_offset: r.data_offset,
        ty: r.ty,
        data: Bytes::from(r.data.clone()),
    }
}

fn store_records(date: &str, ids: impl IntoIterator<Item = u64>) -> Vec<WireRecord> {
    let (_, all) = manifest();
    ids.into_iter()
        .map(|id| wire_record(all.iter().find(|r| r.date.to_string() == date && r.id == id).unwrap()))
        .collect()
}

#[test]
fn every_go_frame_decodes() {
    let limits = FrameLimits::default();
    for v in frame_vectors() {
        assert_eq!(v.bytes.len(), HEADER_LEN + v.body_length as usize, "{}", v.file);
        let h = header_of(&v.bytes);
        let want = FrameHeader {
            send_flag: v.send_flag,
            zlib: v.zlib,
            ctype: v.ctype,
            content_length: v.content_length,
            body_length: v.body_length,
        };
        assert_eq!(h, want, "{}", v.file);
        check_header(&h, v.send_flag, &limits).unwrap();
        let frame = decode_body(&h, &v.bytes[HEADER_LEN..], &limits).unwrap();
        assert_eq!((frame.ctype, &frame.content[..]), (v.ctype, &v.content[..]), "{}", v.file);
        assert_eq!(frame.content.len(), v.content_length as usize, "{}", v.file);
        assert_eq!(read_one(&v.bytes, v.send_flag).unwrap(), frame, "{} via read_frame", v.file);
    }
}

#[test]
fn go_frames_read_back_to_back_from_one_stream() {
    let vectors: Vec<_> = frame_vectors().into_iter().filter(|v| v.send_flag == DEFAULT_SEND_FLAG).collect();
    assert_eq!(vectors.len(), 8);
    let stream: Vec<u8> = vectors.iter().flat_map(|v| v.bytes.iter().copied()).collect();
    block_on(async {
        let mut r = &stream[..];
        for v in &vectors {
            let frame = read_frame(&mut r, DEFAULT_SEND_FLAG, &FrameLimits::default()).await.unwrap();
            assert_eq!((frame.ctype, &frame.content[..]), (v.ctype, &v.content[..]), "{}", v.file);
        }
        let end = read_frame(&mut r, DEFAULT_SEND_FLAG, &FrameLimits::default()).await.unwrap_err();
        assert_eq!(end.kind(), ErrorKind::Closed, "{end}");
    });
}

#[test]
fn our_frames_match_go_byte_for_byte_or_after_decompression() {
    for v in frame_vectors() {
        let ours = encode_frame(v.send_flag, v.ctype, &v.content, v.zlib);
        if v.zlib {
            // zlib output differs from Go's (SPEC §5); all but the body length is fixed.
            assert_eq!(&ours[..16], &v.header[..16], "{}", v.file);
            let h = header_of(&ours);
            assert_eq!(h.body_length as usize, ours.len() - HEADER_LEN, "{}", v.file);
            let frame = decode_body(&h, &ours[HEADER_LEN..], &FrameLimits::default()).unwrap();
            assert_eq!(&frame.content[..], &v.content[..], "{}", v.file);
        } else {
            assert_eq!(&ours[..HEADER_LEN], &v.header[..], "{}", v.file);
            assert_eq!(ours, v.bytes, "{}", v.file);
        }
    }
}

#[test]
fn fixed_strings_and_the_request_match_go() {
    let v = frame_vectors();
    assert_eq!(v[1].content, HELLO_FROM_CLIENT.as_bytes());
    assert_eq!(v[2].content, HELLO_FROM_SERVER.as_bytes());
    let req = SyncRequest::decode(&v[3].content).unwrap();
    assert_eq!((req.date.to_string(), req.id), ("2026-11-21".to_string(), 0));
    assert_eq!(req.encode(), v[3].content);
    assert_eq!(encode_frame(DEFAULT_SEND_FLAG, CTYPE_REQUEST, &req.encode(), false), v[3].bytes);
    for body in [&br#"{"date":"../../etc","id":0}"#[..], br#"{"date":"2026-02-30","id":0}"#] {
        assert_eq!(SyncRequest::decode(body).unwrap_err().kind(), ErrorKind::InvalidArgument);
    }
}

#[test]
fn every_udata_file_is_the_store_records_both_ways() {
    let list = json("udata/udata-manifest.json");
    let files = list.as_array().unwrap();
    assert_eq!(files.len(), 4);
    for f in files {
        let name = f["file"].as_str().unwrap();
        let bytes = std::fs::read(vectors().join("udata").join(name)).unwrap();
        assert_eq!(bytes.len() as u64, f["length"].as_u64().unwrap(), "{name}");
        let ids = f["ids"].as_array().unwrap().iter().map(|i| i.as_u64().unwrap());
        let want = store_records(f["date"].as_str().unwrap(), ids);
        let got = decode_batch(&Bytes::from(bytes.clone())).unwrap();
        assert_eq!(got, want, "{name}");
        let mut ours = Vec::new();
        encode_batch(&want, &mut ours);
        assert!(ours == bytes, "{name}: encode_batch differs from the Go bytes");
    }
}

#[test]
fn the_compressed_batch_frame_carries_records_0_to_2() {
    let v = frame_vectors().into_iter().find(|v| v.file.starts_with("05_")).unwrap();
    let frame = read_one(&v.bytes, DEFAULT_SEND_FLAG).unwrap();
    assert_eq!(frame.ctype, CTYPE_BATCH);
    assert_eq!(decode_batch(&frame.content).unwrap(), store_records("2026-11-21", 0..3));
}

fn frame_error(bytes: &[u8]) -> (ErrorKind, String) {
    let err = read_one(bytes, DEFAULT_SEND_FLAG).unwrap_err();
    (err.kind(), err.to_string())
}

fn with_header(bytes: &[u8], patch: impl FnOnce(&mut FrameHeader)) -> Vec<u8> {
    let mut h = header_of(bytes);
    patch(&mut h);
    [&h.encode()[..], &bytes[HEADER_LEN..]].concat()
}

#[test]
fn malformed_frames_are_refused_with_the_right_kind() {
    let v = frame_vectors();
    let hello = &v[1].bytes;
    let batch = &v[4].bytes; // zlib 1, 138 bytes of content

    assert_eq!(frame_error(&v[7].bytes).0, ErrorKind::Protocol, "send flag 123456 where the default is expected");
    let err = check_header(&header_of(hello), 123_456, &FrameLimits::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);

    // Only the header is there: reaching for the body would give Protocol, not TooLarge.
    for huge in [i32::MIN, i32::MAX, -1] {
        let announce = with_header(&hello[..HEADER_LEN], |h| (h.body_length, h.content_length) = (huge, huge));
        assert_eq!(frame_error(&announce).0, ErrorKind::TooLarge, "body length {huge}");
    }
    let bomb = with_header(&batch[..HEADER_LEN], |h| h.content_length = i32::MAX);
    assert_eq!(frame_error(&bomb).0, ErrorKind::TooLarge);

    assert_eq!(frame_error(&[]).0, ErrorKind::Closed);
    let (kind, msg) = frame_error(&hello[..10]);
    assert_eq!(kind, ErrorKind::Protocol);
    assert!(msg.contains("10 of the 20 bytes"), "{msg}");
    let (kind, msg) = frame_error(&hello[..hello.len() - 1]);
    assert_eq!(kind, ErrorKind::Protocol);
    assert!(msg.contains("25 of the 26 bytes"), "{msg}");

    for lie in [137, 139, 0] {
        let bad = with_header(batch, |h| h.content_length = lie);
        assert_eq!(frame_error(&bad).0, ErrorKind::Protocol, "compressed, content length {lie}");
    }
    let bad = with_header(hello, |h| h.content_length = 25);
    assert_eq!(frame_error(&bad).0, ErrorKind::Protocol, "raw, content length 25 for a 26-byte body");

    let mut garbled = batch.clone();
    garbled[HEADER_LEN + 10] ^= 0xff;
    assert_eq!(frame_error(&garbled).0, ErrorKind::Corrupt);
}

#[test]
fn heartbeats_are_limited_to_1024_bytes() {
    let ok = encode_frame(DEFAULT_SEND_FLAG, CTYPE_HEARTBEAT, &[0u8; 1024], false);
    assert_eq!(read_one(&ok, DEFAULT_SEND_FLAG).unwrap().content.len(), 1024);
    let big = encode_frame(DEFAULT_SEND_FLAG, CTYPE_HEARTBEAT, &[0u8; 1025], false);
    let (kind, msg) = frame_error(&big);
    assert_eq!(kind, ErrorKind::Protocol);
    assert!(msg.contains("heartbeat"), "{msg}");
    // Any other kind of message may be larger.
    let hello = encode_frame(DEFAULT_SEND_FLAG, CTYPE_HELLO, &[0u8; 1025], false);
    assert_eq!(read_one(&hello, DEFAULT_SEND_FLAG).unwrap().content.len(), 1025);
}

#[test]
fn malformed_batches_are_corrupt() {
    let good = std::fs::read(vectors().join("udata/udata_3rec_20261121_id0-2.bin")).unwrap();
    for trailing in [1, 38, 39, 41] {
        let bad = [&good[..], &vec![0u8; trailing]].concat();
        let err = decode_batch(&Bytes::from(bad)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Corrupt, "{trailing} trailing bytes");
        assert!(err.to_string().contains(&format!("byte {}", good.len())), "{err}");
    }
    // 42 zero bytes form a record of 0000-00-00, which is not a date.
    let bad = [&good[..], &[0u8; 42][..]].concat();
    assert_eq!(decode_batch(&Bytes::from(bad)).unwrap_err().kind(), ErrorKind::Corrupt);
    assert_eq!(decode_batch(&Bytes::new()).unwrap_err().kind(), ErrorKind::Corrupt);
}
