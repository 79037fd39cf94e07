# The two set-up commands of the README: `make demo` and `make test`.
BUILD ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
FUZZ_SECONDS ?= 60
CMAKE_FLAGS ?=
CTEST_FLAGS ?= --output-on-failure --timeout 300 -j2

.PHONY: all deps build demo test test-sanitize fuzz bench format clean help

all: build

help:
	@echo "make demo           build, then tcpx-p2p demo: a two-process KV-cache transfer, verified"
	@echo "make test           build and run every test (GoogleTest and pytest suites via ctest)"
	@echo "make test-sanitize  the same tests built with AddressSanitizer + UBSan"
	@echo "make fuzz           libFuzzer targets (clang), FUZZ_SECONDS=60 each (fuzz/README.md)"
	@echo "make bench          transport benchmark side by side with raw TCP (scripts/bench_transport.sh)"
	@echo "make format         clang-format every C++ source"

deps:
	@bash scripts/setup-deps.sh

# The Python module and its tests use a venv (.venv: nanobind, pytest, numpy from PyPI);
# without one the build skips the module and ctest skips the Python tests, saying so. Each step
# says what it installs or builds and how long it took; a failed configure prints CMake's output.
build: deps
	@py=$$(bash scripts/python-env.sh) && \
	  bash scripts/build.sh $(BUILD) -DPython_EXECUTABLE="$$py" $(CMAKE_FLAGS)

# Two processes exchange a KV-cache-shaped workload with one-sided writes, verify every byte
# and print a summary (GPU memory when a GPU is present, host memory otherwise).
demo: build
	UCCL_SOCKET_IFNAME=$${UCCL_SOCKET_IFNAME:-lo} $(BUILD)/tcpx-p2p demo

# ctest lists a skipped test only as "(Skipped)": scripts/skipped-tests.sh then says why.
test: build
	(cd $(BUILD) && ctest $(CTEST_FLAGS)); rc=$$?; bash scripts/skipped-tests.sh $(BUILD); exit $$rc

test-sanitize: deps
	@# Host-only (TCPXP_CUDA=OFF): also proves the CUDA-less build; the CUDA runtime's own
	@# process-lifetime allocations would otherwise read as leaks. The Python module is built
	@# with the sanitizers too: ctest's `python` test preloads their runtime into the venv's
	@# interpreter (tests/CMakeLists.txt).
	@py=$$(bash scripts/python-env.sh) && \
	  bash scripts/build.sh $(BUILD_ASAN) -DTCPXP_SANITIZE=ON -DTCPXP_CUDA=OFF -DTCPXP_BUILD_PYTHON=ON \
	    -DCMAKE_BUILD_TYPE=Debug -DPython_EXECUTABLE="$$py" $(CMAKE_FLAGS)
	(cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest $(CTEST_FLAGS)); rc=$$?; bash scripts/skipped-tests.sh $(BUILD_ASAN); exit $$rc

# libFuzzer targets (fuzz/README.md), built with clang and ASan + UBSan in their own build
# directory (the main build stays g++), each run FUZZ_SECONDS; any crash fails.
fuzz: deps
	@CC=clang CXX=clang++ cmake -S fuzz -B $(BUILD_FUZZ) -G Ninja >/dev/null
	@cmake --build $(BUILD_FUZZ)
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash fuzz/run.sh $(BUILD_FUZZ)

bench: build
	bash scripts/bench_transport.sh

format:
	@find src tests bench fuzz -name '*.cc' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)
