//! The service layer: what a request means, whoever sent it. HTTP and the
//! wire protocol translate into calls here; nothing here touches a socket.

pub mod accounts;
