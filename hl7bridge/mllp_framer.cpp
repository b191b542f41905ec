// The MLLP framing state machine and frame writer.
#include "hl7bridge/mllp_framer.h"

namespace pacs::hl7 {

void MllpFramer::feed(std::string_view bytes, std::vector<std::string>& complete_messages) {
  constexpr std::string_view kBlockMarks{"\x0b\x1c", 2};
  std::size_t position = 0;
  // Each pass consumes at least one byte, or returns.
  while (position < bytes.size()) {
    if (state_ == State::Oversize) {
      discarded_bytes_ += bytes.size() - position;
      return;
    }
    if (just_ended_) {
      just_ended_ = false;
      if (bytes[position] == kMllpTrailer) {
        ++position;
        continue;
      }
    }
    if (state_ == State::Idle) {
      const auto start = bytes.find(kMllpStartBlock, position);
      if (start == std::string_view::npos) {
        discarded_bytes_ += bytes.size() - position;
        return;
      }
      discarded_bytes_ += start - position;
      state_ = State::InMessage;
      position = start + 1;
      continue;
    }
    // InMessage: take everything up to the next block mark in one piece.
    const auto mark = bytes.find_first_of(kBlockMarks, position);
    const std::size_t stop = mark == std::string_view::npos ? bytes.size() : mark;
    const std::string_view content = bytes.substr(position, stop - position);
    if (message_.size() + content.size() > max_message_bytes_) {
      discarded_bytes_ += 1 + message_.size() + content.size();  // 1: the VT that opened it
      std::string().swap(message_);                              // give the memory back now
      state_ = State::Oversize;
      position = stop;
      continue;
    }
    message_.append(content);
    if (mark == std::string_view::npos) return;
    position = mark + 1;
    if (bytes[mark] == kMllpStartBlock) {  // a new start: the unfinished message is abandoned
      discarded_bytes_ += 1 + message_.size();
      message_.clear();
      continue;
    }
    complete_messages.push_back(std::move(message_));
    message_.clear();  // a moved-from string is valid but unspecified
    state_ = State::Idle;
    just_ended_ = true;
  }
}

std::string mllp_frame(std::string_view message) {
  std::string frame;
  frame.reserve(message.size() + 3);
  frame += kMllpStartBlock;
  frame += message;
  frame += kMllpEndBlock;
  frame += kMllpTrailer;
  return frame;
}

}  // namespace pacs::hl7
