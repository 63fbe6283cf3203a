//! API discovery: path normalisation, endpoint templates (declared and heuristic), and
//! protocol details (GraphQL operations, gRPC methods).
