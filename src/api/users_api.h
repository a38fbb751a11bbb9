// The user and session routes of the REST API (docs/api.md "Users and sessions",
// docs/security.md):
//
//   POST   /v1/session                  public: {"email", "password"} -> 200 the user,
//                                       "csrf_token", "expires_at"; Set-Cookie
//                                       outflow_session. 401 wrong email or password,
//                                       429 slowed or locked (the same for every email)
//   GET    /v1/session                  who the request is; a session's csrf_token
//   DELETE /v1/session                  logout: the session ends server-side
//   POST   /v1/session/password         {"current_password", "new_password"}
//   GET    /v1/users, POST /v1/users    admin: list; {"email", "role"} -> 201 with a
//                                       one-time "setup_link"
//   GET, PATCH, DELETE /v1/users/{id}   admin: PATCH {"role"?, "disabled"?}
//   POST   /v1/users/{id}/setup-link    admin: a new link (a password reset)
//   POST   /v1/users/{id}/unlock        admin: clears the email's failed logins
//   GET    /setup?token=T               public: a small page to set the password
//   POST   /v1/setup                    public: {"token", "password", "email"?}
// Thread-safe.
#pragma once

#include <boost/json.hpp>

#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "api/auth_gate.h"
#include "api/http_server.h"
#include "auth/user_auth.h"

namespace outflow::api {

// A user as the API and `outflow user list --json` show it: never the password hash.
boost::json::object UserToJson(const User& u);

class UsersApi {
 public:
  explicit UsersApi(auth::UserAuth& users) : users_(users) {}
  // Where setup links point (serve --public-url, else the listen address).
  void SetPublicUrl(std::string url);
  std::string public_url() const;
  // The response for a path of these routes; nullopt for any other path.
  std::optional<HttpResponse> Route(const HttpRequest& req, std::string_view path, std::string_view query,
                                    const Admission& who);

 private:
  HttpResponse Login(const HttpRequest& req);
  HttpResponse WhoAmI(const Admission& who);
  HttpResponse Logout(const HttpRequest& req, const Admission& who);
  HttpResponse ChangePassword(const HttpRequest& req, const Admission& who);
  HttpResponse UsersRoute(const HttpRequest& req, std::string_view rest);
  HttpResponse Create(const HttpRequest& req);
  HttpResponse List();
  HttpResponse Change(const HttpRequest& req, UserId id);
  HttpResponse Delete(UserId id);
  HttpResponse NewLink(UserId id);
  HttpResponse Unlock(UserId id);
  HttpResponse SetupPage(std::string_view query);
  HttpResponse Setup(const HttpRequest& req);

  auth::UserAuth& users_;
  mutable std::mutex mu_;
  std::string public_url_;  // GUARDED_BY(mu_)
};

}  // namespace outflow::api
