// Node client for ai-router's gRPC API, on the official grpc-js runtime.
// The service definition is loaded from proto/airouter/v1/router.proto by
// @grpc/proto-loader (grpc-js's standard way: no generated files to keep in
// sync); `connect()` returns a client whose methods are the proto's RPCs.
'use strict';

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTO_ROOT = process.env.AI_ROUTER_PROTO_ROOT || path.join(__dirname, '..', '..', 'proto');

const definition = protoLoader.loadSync(path.join(PROTO_ROOT, 'airouter', 'v1', 'router.proto'), {
  includeDirs: [PROTO_ROOT],
  // Field names as in the proto (snake_case), 64-bit integers as strings
  // (JavaScript numbers lose precision past 2^53), enums by name.
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});
const airouter = grpc.loadPackageDefinition(definition).airouter.v1;

/** A client of `airouter.v1.Router` at `address` ("127.0.0.1:50051"). */
function connect(address, credentials = grpc.credentials.createInsecure(), options = {}) {
  return new airouter.Router(address, credentials, options);
}

/** A request for `prompt` (one user message) to `model`. */
function request(model, prompt, maxTokens = 64, params = {}) {
  return { model, prompt, params: { max_tokens: maxTokens, ...params } };
}

/** A deadline `seconds` from now, for the `deadline` call option. */
function deadline(seconds) {
  return new Date(Date.now() + seconds * 1000);
}

module.exports = { connect, request, deadline, grpc, airouter };
