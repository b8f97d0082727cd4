#![no_main]
//! `syslog_rfc5424`: never panics; structured records are valid JSON

edgeship_fuzz::format_target!("format = \"syslog_rfc5424\"\ntypes = { response = \"int\", bytes = \"int\" }\ntimestamp_field = \"timestamp\"", true);
