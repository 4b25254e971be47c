# Two entry points for a fresh Debian machine (run as root):
#   make demo   install what is missing, build, train an MLP and LeNet-5 on Fashion-MNIST
#   make test   install what is missing, build (plain and ASan+UBSan), run every test
JOBS ?= 2
BUILD ?= build
BUILD_ASAN ?= build-asan

.PHONY: all deps venv build build-asan test demo clean
all: build

deps:
	@sh scripts/install-deps.sh

# Python is for tests and benchmarks only (onnx, onnxruntime, numpy)
venv: deps
	@test -x .venv/bin/python || python3 -m venv .venv
	@.venv/bin/python -c "import onnx, onnxruntime, numpy" 2>/dev/null || \
	  .venv/bin/pip install -q onnx onnxruntime numpy

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DSMELT_SANITIZE=ON >/dev/null
	cmake --build $(BUILD_ASAN) -j $(JOBS)

test: venv build build-asan
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	cd $(BUILD_ASAN) && ctest --output-on-failure -j $(JOBS)

demo: build
	@sh scripts/demo.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
