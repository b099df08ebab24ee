pub mod agents;
pub mod cancel;
pub mod logs;
pub mod ls;
pub mod run;
pub mod serve;
pub mod status;
pub mod wait;
