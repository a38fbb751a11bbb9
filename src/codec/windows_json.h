// Stored form of send windows, shared by the SQLite stores (release plans, sending
// accounts): a JSON array of [weekday mask, start minute, end minute].
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "time/send_window.h"

namespace outflow {

std::string EncodeWindowsColumn(const std::vector<Window>& windows);
// Entries that are not three numbers are dropped (the column is written only by EncodeWindowsColumn).
std::vector<Window> DecodeWindowsColumn(std::string_view text);

}  // namespace outflow
