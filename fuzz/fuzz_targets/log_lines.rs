//! Any bytes as log lines: cleaning, parsing every timestamp format, records,
//! yearless placement, and the command-line time and duration parsers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logkeep::logline::{self, Record, Stamp};
use logkeep::timestamp::{self, Timestamp};

fuzz_target!(|data: &[u8]| {
    let mut text = String::new();
    let mut record = Record::default();
    let reference = Timestamp(1_781_154_630_000_000_000);
    for raw in data.split(|&b| b == b'\n') {
        logline::clean(raw, &mut text);
        let info = logline::parse(&text);
        let own = match info.stamp {
            Stamp::At(t) => Some(t),
            Stamp::Yearless(y) => y.resolve(reference),
            Stamp::None => None,
        };
        record.advance(&info, own);
        if let Some(t) = own {
            let _ = (t.to_string(), t.date(), t.time_of_day());
        }
        if let Ok(arg) = timestamp::parse_time_arg(&text) {
            let _ = arg.shifted(i64::MAX).resolve(Some(reference));
        }
        let _ = timestamp::parse_duration(&text);
    }
});
