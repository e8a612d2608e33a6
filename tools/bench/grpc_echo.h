// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The gRPC echo service both gRPC benches serve (ipc_grpc.cc over a unix
 * socket, axon_grpc.cc over TCP + TLS): the method /cell.bench.Echo/Call
 * carries raw bytes (grpc::ByteBuffer) through gRPC's generic callback API,
 * and its reactor writes back the request it read.  No protobuf, so the
 * figures are gRPC's transport at its cheapest.  Any other method is
 * answered UNIMPLEMENTED.
 *
 * Header-only: each bench is one translation unit, built by its own make
 * rule (tools/bench/bench.mk, axon.mk) with this directory on the include
 * path of its source.
 */
#ifndef CELL_BENCH_GRPC_ECHO_H
#define CELL_BENCH_GRPC_ECHO_H

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

namespace grpc_echo
{

inline constexpr char kMethod[] = "/cell.bench.Echo/Call";

class Reactor : public grpc::ServerGenericBidiReactor
{
      public:
	explicit Reactor(bool known)
	{
		if (known)
			StartRead(&buf_);
		else
			Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "no such method"));
	}

	void OnReadDone(bool ok) override
	{
		if (!ok) {
			Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no request"));
			return;
		}
		StartWriteAndFinish(&buf_, grpc::WriteOptions(), grpc::Status::OK);
	}

	void OnDone() override
	{
		delete this;
	}

      private:
	grpc::ByteBuffer buf_;
};

/* Register with grpc::ServerBuilder::RegisterCallbackGenericService(). */
class Service : public grpc::CallbackGenericService
{
	grpc::ServerGenericBidiReactor *
	CreateReactor(grpc::GenericCallbackServerContext *ctx) override
	{
		return new Reactor(ctx->method() == kMethod);
	}
};

} // namespace grpc_echo

#endif /* CELL_BENCH_GRPC_ECHO_H */
