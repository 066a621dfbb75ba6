# The two commands of the README: `make demo` and `make test`. Both install what they need.
BUILD_DIR ?= build
JOBS ?= 2

.PHONY: all deps configure build demo test clean

all: build

deps:
	@scripts/deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j$(JOBS)

# The demo needs only the binary, not the test suite.
demo: configure
	@cmake --build $(BUILD_DIR) -j$(JOBS) --target iris
	$(BUILD_DIR)/iris run configs/demo.yaml

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS)

clean:
	rm -rf $(BUILD_DIR) out
